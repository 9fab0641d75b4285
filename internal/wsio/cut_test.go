package wsio

import (
	"bytes"
	"errors"
	"testing"

	"github.com/gobwas/ws"
	"github.com/stretchr/testify/require"
)

// cutWriter takes the first n bytes of every write, then fails it, as a
// socket write that hits its deadline does.
type cutWriter struct {
	buf bytes.Buffer
	n   int
}

var errDeadline = errors.New("i/o timeout")

func (w *cutWriter) Write(p []byte) (int, error) {
	if len(p) <= w.n {
		return w.buf.Write(p)
	}
	w.buf.Write(p[:w.n])
	return w.n, errDeadline
}

// A frame cut short leaves the stream broken: nothing is written after it,
// not even the close frame, which would land inside the cut frame's payload
// and make the peer read it as data.
func TestNoFrameAfterACutOne(t *testing.T) {
	tests := []struct {
		name    string
		cut     int
		closeOK bool
	}{
		{"cut inside the frame", 5, false},
		{"nothing written", 0, true},
		{"whole frame written", 1 << 10, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f Framer
			f.Init(Server)
			w := &cutWriter{n: tt.cut}
			err := f.WriteTexts(w, nil, [][]byte{[]byte(`{"id":1,"result":"a long enough reply"}`)})
			if tt.cut < 1<<10 {
				require.ErrorIs(t, err, errDeadline)
			}
			before := w.buf.Len()
			w.n = 1 << 10
			err = f.WriteClose(w, ws.StatusPolicyViolation, "")
			if tt.closeOK {
				require.NoError(t, err)
				require.Greater(t, w.buf.Len(), before, "the close frame was written")
			} else {
				require.ErrorIs(t, err, ErrClosed)
				require.Equal(t, before, w.buf.Len(), "nothing was written after the cut frame")
			}
		})
	}
}
