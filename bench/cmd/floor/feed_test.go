package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wsrpc/wsrpc-go/bench/internal/wire"
	"github.com/wsrpc/wsrpc-go/internal/testkit"
)

// reads are 64 reads of 16 masked calls each, the messages the server's
// BenchmarkServePath sends.
func reads(call string) [][]byte {
	var out [][]byte
	for _, msgs := range testkit.BenchReads(call, 64, 16) {
		var buf []byte
		for _, msg := range msgs {
			buf = wire.Append(buf, wire.OpText, []byte(msg), true)
		}
		out = append(out, buf)
	}
	return out
}

func TestAnswers(t *testing.T) {
	var p peer
	for _, tc := range []struct{ call, want string }{
		{`{"id":3,"method":"subtract","params":{"a":42,"b":23}}`, `{"id":3,"result":19}`},
		{`{"id":4,"method":"kv.get","params":{"key":"k"}}`, `{"id":4,"result":null}`},
		{`{"id":5,"method":"kv.set","params":{"key":"k","value":{"x":[1,2]}}}`, `{"id":5,"result":true}`},
		{`{"id":6,"method":"kv.get","params":{"key":"k"}}`, `{"id":6,"result":{"x":[1,2]}}`},
		{`{"id":7,"method":"ping","params":{"n":1}}`, `{"id":7,"result":{"n":1}}`},
	} {
		p.out = p.out[:0]
		b := wire.Append(nil, wire.OpText, []byte(tc.call), true)
		used, err := p.feed(b)
		require.NoError(t, err)
		require.Equal(t, len(b), used)
		_, reply, _, err := wire.Next(p.out, false, 1<<16)
		require.NoError(t, err)
		require.Equal(t, tc.want, string(reply), tc.call)
	}
}

// BenchmarkFeed is the floor's share of a call, as BenchmarkServePath in
// ./server is the wsrpc server's: 16 calls per read unmasked, parsed,
// answered and framed, no system calls. bench/ir.sh counts its
// instructions per call beside the server's.
func BenchmarkFeed(b *testing.B) {
	for _, call := range []string{"subtract", "kv"} {
		b.Run(call, func(b *testing.B) {
			rs := reads(call)
			var p peer
			scratch := make([]byte, 0, 4096)
			b.ReportAllocs()
			calls := 0
			for i := 0; b.Loop(); i++ {
				scratch = append(scratch[:0], rs[i%len(rs)]...) // feed unmasks in place
				p.out = p.out[:0]
				if _, err := p.feed(scratch); err != nil {
					b.Fatal(err)
				}
				calls += 16
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(calls), "ns/call")
		})
	}
}

// TestFeedAllocs pins what makes the floor a floor: once a connection's
// keys are in its map, answering a read allocates nothing.
func TestFeedAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage counters allocate")
	}
	for _, call := range []string{"subtract", "kv"} {
		rs := reads(call)
		var p peer
		scratch := make([]byte, 0, 4096)
		i := 0
		feed := func() {
			scratch = append(scratch[:0], rs[i%len(rs)]...)
			i++
			p.out = p.out[:0]
			_, err := p.feed(scratch)
			require.NoError(t, err)
		}
		for range rs {
			feed() // every key set once, the reply buffer grown
		}
		require.Zero(t, testing.AllocsPerRun(100, feed), call)
	}
}
