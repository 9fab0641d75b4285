package wire

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFrameRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name   string
		size   int
		masked bool
	}{
		{"empty", 0, false},
		{"short", 125, false},
		{"short masked", 125, true},
		{"extended", 126, false},
		{"extended masked", 4000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			payload := bytes.Repeat([]byte("x"), tc.size)
			b := Append([]byte("prefix"), OpText, payload, tc.masked)[len("prefix"):]
			for cut := 0; cut < len(b); cut++ {
				_, _, n, err := Next(append([]byte(nil), b[:cut]...), tc.masked, 1<<16)
				require.NoError(t, err)
				require.Zero(t, n, "a frame cut at %d is incomplete", cut)
			}
			op, got, n, err := Next(b, tc.masked, 1<<16)
			require.NoError(t, err)
			require.Equal(t, len(b), n)
			require.Equal(t, byte(OpText), op)
			require.Equal(t, payload, append([]byte{}, got...))
		})
	}
}

func TestFrameRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		frame  []byte
		masked bool
	}{
		{"unmasked where masked is due", []byte{0x81, 0x01, 'x'}, true},
		{"masked where unmasked is due", []byte{0x81, 0x81, 1, 2, 3, 4, 'x'}, false},
		{"fragment", []byte{0x01, 0x01, 'x'}, false},
		{"reserved bit", []byte{0xC1, 0x01, 'x'}, false},
		{"over the limit", []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := Next(tc.frame, tc.masked, 1000)
			require.ErrorIs(t, err, ErrFrame)
		})
	}
}

func TestObject(t *testing.T) {
	msg := []byte(` {"id": 7, "method":"kv.set","params":{"key":"k\"1","value":[1,{"a":"}"}]}, "x":null} `)
	o := NewObject(msg)
	var got []string
	for {
		k, v, ok := o.Next()
		if !ok {
			break
		}
		got = append(got, string(k)+"="+string(v))
	}
	require.False(t, o.Err())
	require.Equal(t, []string{"id=7", `method="kv.set"`, `params={"key":"k\"1","value":[1,{"a":"}"}]}`, "x=null"}, got)

	for _, bad := range []string{`[1]`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":"x`, `{"a":[1,2}`, `{a:1}`} {
		o := NewObject([]byte(bad))
		for _, _, ok := o.Next(); ok; _, _, ok = o.Next() {
		}
		require.True(t, o.Err() || !strings.HasPrefix(bad, "{"), bad)
	}
}

func TestInt(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "-12": -12, "999999999999999999": 999999999999999999, "-999999999999999999": -999999999999999999} {
		v, ok := Int([]byte(in))
		require.True(t, ok, in)
		require.Equal(t, want, v)
	}
	for _, in := range []string{"", "-", "1.5", "1e3", "+1", "1234567890123456789", `"1"`} {
		_, ok := Int([]byte(in))
		require.False(t, ok, in)
	}
}

func FuzzNext(f *testing.F) {
	f.Add(Append(nil, OpText, []byte(`{"id":1}`), true), true)
	f.Add(Append(nil, OpText, bytes.Repeat([]byte("y"), 300), false), false)
	f.Fuzz(func(t *testing.T, b []byte, masked bool) {
		_, payload, n, err := Next(b, masked, 1<<12)
		if err == nil && n > 0 {
			require.LessOrEqual(t, n, len(b))
			require.LessOrEqual(t, len(payload), n)
		}
	})
}

func FuzzObject(f *testing.F) {
	f.Add([]byte(`{"id":1,"method":"subtract","params":{"a":1,"b":2}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		o := NewObject(b)
		for i := 0; i < len(b)+1; i++ {
			if _, _, ok := o.Next(); !ok {
				return
			}
		}
		t.Fatal("the walk did not end")
	})
}
