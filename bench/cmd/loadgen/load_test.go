package main

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wsrpc/wsrpc-go/bench/internal/wire"
)

// answer is a correct server for the generator's calls: it replies to
// every masked call frame in b, kv from a map.
func answer(t *testing.T, b []byte, kv map[string]string) []byte {
	var out []byte
	for len(b) > 0 {
		_, payload, n, err := wire.Next(b, true, 1<<16)
		require.NoError(t, err)
		require.NotZero(t, n)
		b = b[n:]
		id, _, method, params := parseMessage(payload)
		var result string
		o := wire.NewObject(params)
		f := map[string]string{}
		for k, v, ok := o.Next(); ok; k, v, ok = o.Next() {
			f[string(k)] = string(v)
		}
		switch string(method) {
		case `"subtract"`:
			a, _ := strconv.Atoi(f["a"])
			b, _ := strconv.Atoi(f["b"])
			result = strconv.Itoa(a - b)
		case `"kv.set"`:
			kv[f["key"]], result = f["value"], "true"
		case `"kv.get"`:
			result = "null"
			if v, ok := kv[f["key"]]; ok {
				result = v
			}
		case `"ping"`:
			result = string(params)
		}
		out = wire.Append(out, wire.OpText, []byte(`{"id":`+strconv.FormatInt(id, 10)+`,"result":`+result+`}`), false)
	}
	return out
}

func TestLoadChecksReplies(t *testing.T) {
	for _, call := range []string{"subtract", "kv", "ping"} {
		t.Run(call, func(t *testing.T) {
			c := newLoadConn(options{call: call, depth: 4}, -1)
			kv := map[string]string{}
			for i := 0; i < 4; i++ {
				c.call(0)
			}
			for round := 0; round < 50; round++ {
				replies := answer(t, c.out, kv)
				c.out = c.out[:0]
				used, answered, err := c.handle(replies, time.Duration(round+1), true, false)
				require.NoError(t, err)
				require.Equal(t, len(replies), used)
				require.Equal(t, 4, answered)
			}
			require.Zero(t, c.wrong)
			require.EqualValues(t, 200, c.calls)

			// A wrong result is counted.
			replies := answer(t, c.out, kv)
			c.out = c.out[:0]
			replies[len(replies)-2]++ // the last digit of the last result, or "true" → "truf"
			_, _, err := c.handle(replies, 0, true, false)
			require.NoError(t, err)
			require.EqualValues(t, 1, c.wrong)
		})
	}
}

// TestLoadAllocs pins the generator's leanness: a read's replies checked
// and as many new calls made allocates nothing.
func TestLoadAllocs(t *testing.T) {
	c := newLoadConn(options{call: "subtract", depth: 16}, -1)
	for i := 0; i < 16; i++ {
		c.call(0)
	}
	// The same replies again and again: each frees its slot (its check
	// fails, which only counts) and a new call takes it, the work measured.
	replies := answer(t, c.out, nil)
	round := func() {
		c.out = c.out[:0]
		_, answered, err := c.handle(replies, 1, true, false)
		require.NoError(t, err)
		require.Equal(t, 16, answered)
	}
	round()
	require.Zero(t, testing.AllocsPerRun(100, round))
}
