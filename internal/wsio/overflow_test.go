package wsio

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"testing"

	"github.com/gobwas/ws"
	"github.com/stretchr/testify/require"
)

// longHeader is a frame header (masked when mask) with a 64-bit length.
func longHeader(b0 byte, length uint64, mask bool) []byte {
	h := []byte{b0, 127}
	h = binary.BigEndian.AppendUint64(h, length)
	if mask {
		h[1] |= 0x80
		h = append(h, 1, 2, 3, 4)
	}
	return h
}

// CrashInput is a text fragment followed by a continuation whose length,
// added to what was buffered, wraps int64. With deflate the fragment is a
// compressed one.
func crashInput(tb testing.TB, mask, deflate bool) []byte {
	var in []byte
	if deflate {
		in = compressedFrame(false, ws.OpText, deflated(tb, []byte(`{"x":`)), mask)
	} else {
		in = frame(false, ws.OpText, []byte(`{"x":`), mask)
	}
	return append(in, longHeader(0x80|byte(ws.OpContinuation), 1<<63-1, mask)...)
}

func TestLengthsThatWrapAreTooBig(t *testing.T) {
	tests := []struct {
		name    string
		side    Side
		deflate bool
		limits  Limits
	}{
		{"server", Server, false, Limits{}},
		{"client", Client, false, Limits{}},
		{"server deflate", Server, true, Limits{}},
		{"client deflate", Client, true, Limits{}},
		// With the largest limit, the frame is refused for what is left
		// of it (the limit minus the 5 bytes buffered).
		{"server max limit", Server, false, Limits{MaxMessageSize: math.MaxInt64}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := crashInput(t, tt.side == Server, tt.deflate)
			p := NewParser(tt.side, tt.limits)
			if tt.deflate {
				p.EnableDeflate()
			}
			p.Feed(append([]byte(nil), in...))
			want := ws.StatusMessageTooBig
			_, _, _, err := p.Next()
			var ce *CloseError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, want, ce.Code)
			p.Detach()

			r := NewReader(bytes.NewReader(in), tt.side, tt.limits)
			if tt.deflate {
				r.EnableDeflate()
			}
			_, _, err = r.ReadMessage()
			require.ErrorAs(t, err, &ce)
			require.Equal(t, want, ce.Code)
		})
	}
}

func TestFrameThatFitsTheLargestLimitWaits(t *testing.T) {
	in := frame(false, ws.OpText, []byte(`{"x":`), true)
	in = append(in, longHeader(0x80|byte(ws.OpContinuation), math.MaxInt64-5, true)...)
	p := NewParser(Server, Limits{MaxMessageSize: math.MaxInt64})
	p.Feed(in)
	_, _, ok, err := p.Next()
	require.NoError(t, err)
	require.False(t, ok, "the parser waits for the payload")
	require.False(t, p.Ready())
	require.Equal(t, int(min(math.MaxInt64-5, maxInt)), p.Need(), "all of the payload, capped at the largest int")
}

func TestContinuationUpToWhatIsLeftOfTheLimit(t *testing.T) {
	const limit = 1000
	first := frame(false, ws.OpText, make([]byte, 600), true)
	fits := append(append([]byte(nil), first...), frame(true, ws.OpContinuation, make([]byte, 400), true)...)
	_, payload, err := NewReader(bytes.NewReader(fits), Server, Limits{MaxMessageSize: limit}).ReadMessage()
	require.NoError(t, err)
	require.Len(t, payload, limit)

	over := append(append([]byte(nil), first...), frame(true, ws.OpContinuation, make([]byte, 401), true)...)
	_, _, err = NewReader(bytes.NewReader(over), Server, Limits{MaxMessageSize: limit}).ReadMessage()
	var ce *CloseError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, ws.StatusMessageTooBig, ce.Code)
}

func TestInflateUpToTheLimitExactly(t *testing.T) {
	msg := bytes.Repeat([]byte("a"), 5000)
	z := deflated(t, msg)
	for _, tt := range []struct {
		limit int64
		ok    bool
	}{{4999, false}, {5000, true}, {math.MaxInt64, true}} {
		out, err := inflate(nil, z, tt.limit)
		if !tt.ok {
			var ce *CloseError
			require.ErrorAs(t, err, &ce, "limit %d", tt.limit)
			require.Equal(t, ws.StatusMessageTooBig, ce.Code)
			continue
		}
		require.NoError(t, err, "limit %d", tt.limit)
		require.Equal(t, msg, out)
	}
}

// askReader serves data in chunks and records, for each Read, how much
// room it was given and how much had arrived before.
type askReader struct {
	data    []byte
	chunk   int
	arrived int
	worst   int // the most room asked beyond max(arrived, MinGrow)
}

func (r *askReader) Read(b []byte) (int, error) {
	r.worst = max(r.worst, len(b)-max(r.arrived, MinGrow))
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(b[:min(len(b), r.chunk)], r.data)
	r.data = r.data[n:]
	r.arrived += n
	return n, nil
}

func TestReadBufferFollowsWhatArrived(t *testing.T) {
	const size = 1 << 20
	msg := bytes.Repeat([]byte("z"), size)
	for _, chunk := range []int{1000, 64 << 10} {
		// A header that claims the whole limit, then the payload trickling in.
		ar := &askReader{data: frame(true, ws.OpText, msg, true), chunk: chunk}
		r := NewReader(ar, Server, Limits{MaxMessageSize: size})
		text, payload, err := r.ReadMessage()
		require.NoError(t, err)
		require.True(t, text)
		require.Equal(t, msg, payload)
		require.LessOrEqual(t, ar.worst, 0, "a read asked for more room than what had arrived (chunk %d)", chunk)

		// A header alone reserves no more than MinGrow.
		ar = &askReader{data: longHeader(0x81, size, true), chunk: chunk}
		_, _, err = NewReader(ar, Server, Limits{MaxMessageSize: size}).ReadMessage()
		require.ErrorIs(t, err, io.ErrUnexpectedEOF)
		require.LessOrEqual(t, ar.worst, 0)
	}
}
