package session_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/session"
)

// memHost is a Host in memory: what the session writes, and its drops.
type memHost struct {
	mu    sync.Mutex
	out   bytes.Buffer
	drops int
}

func (h *memHost) Write(b []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.drops > 0 {
		return 0, errors.New("dropped")
	}
	return h.out.Write(b)
}

func (h *memHost) Drop() {
	h.mu.Lock()
	h.drops++
	h.mu.Unlock()
}

func (h *memHost) dropCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.drops
}

// frames parses what was written so far.
func (h *memHost) frames(t *testing.T) []ws.Frame {
	t.Helper()
	h.mu.Lock()
	r := bytes.NewReader(append([]byte(nil), h.out.Bytes()...))
	h.mu.Unlock()
	var out []ws.Frame
	for r.Len() > 0 {
		f, err := ws.ReadFrame(r)
		require.NoError(t, err)
		out = append(out, f)
	}
	return out
}

// waitFrames waits, 5s at most, until n frames were written.
func (h *memHost) waitFrames(t *testing.T, n int) []ws.Frame {
	t.Helper()
	var fs []ws.Frame
	require.Eventually(t, func() bool { fs = h.frames(t); return len(fs) >= n }, 5*time.Second, time.Millisecond,
		"want %d frames written", n)
	return fs
}

// newSession is a server session over a memHost with a subtract route.
func newSession(t *testing.T, cfg *session.Config) (*session.Session, *memHost) {
	t.Helper()
	reg := wsrpc.NewRegistry()
	reg.MustAdd("subtract", func(ctx context.Context, p struct{ A, B int }) int { return p.A - p.B })
	h := new(memHost)
	sess := session.New(h, cfg, false)
	conn := wsrpc.NewConn(sess, wsrpc.ConnConfig{Role: wsrpc.RoleServer, Registry: reg, Options: &wsrpc.Options{KeepaliveInterval: -1}, BatchedReads: true})
	sess.Attach(conn)
	conn.Start()
	t.Cleanup(func() { _ = conn.Close() })
	return sess, h
}

// clientFrame is a masked frame, as a client sends.
func clientFrame(fin bool, op ws.OpCode, payload string) []byte {
	f := ws.NewFrame(op, fin, []byte(payload))
	f = ws.MaskFrameInPlace(f)
	b, err := ws.CompileFrame(f)
	if err != nil {
		panic(err)
	}
	return b
}

func closeCodeOf(f ws.Frame) int {
	if len(f.Payload) < 2 {
		return 0
	}
	return int(binary.BigEndian.Uint16(f.Payload))
}

// Feed takes bytes in any split: a call, a fragmented call with a ping
// between its fragments, each split whole, a byte at a time, or in threes,
// gets the same replies and the pong.
func TestFeedAnySplit(t *testing.T) {
	var in []byte
	in = append(in, clientFrame(true, ws.OpText, `{"id":3,"method":"subtract","params":{"A":9,"B":1}}`)...)
	in = append(in, clientFrame(false, ws.OpText, `{"id":5,"method":"subtr`)...)
	in = append(in, clientFrame(true, ws.OpPing, "hi")...)
	in = append(in, clientFrame(true, ws.OpContinuation, `act","params":{"A":1,"B":9}}`)...)
	for _, tt := range []struct {
		name  string
		chunk int
	}{{"whole", len(in)}, {"byte at a time", 1}, {"threes", 3}} {
		for _, never := range []bool{false, true} {
			t.Run(tt.name, func(t *testing.T) {
				sess, h := newSession(t, &session.Config{WriteNeverBlocks: never})
				for off := 0; off < len(in); off += tt.chunk {
					chunk := append([]byte(nil), in[off:min(off+tt.chunk, len(in))]...)
					require.NoError(t, sess.Feed(chunk))
				}
				fs := h.waitFrames(t, 3)
				var texts []string
				var pongs int
				for _, f := range fs {
					switch f.Header.OpCode {
					case ws.OpText:
						texts = append(texts, string(f.Payload))
					case ws.OpPong:
						require.Equal(t, "hi", string(f.Payload))
						pongs++
					}
					require.False(t, f.Header.Masked, "a server does not mask")
				}
				require.Equal(t, 1, pongs)
				require.ElementsMatch(t, []string{`{"id":3,"result":8}`, `{"id":5,"result":-8}`}, texts)
				require.Zero(t, h.dropCount())
			})
		}
	}
}

// The end of a session: which close code answers which cause, what the
// Conn's error is, and that the connection is dropped once.
func TestEndClassifies(t *testing.T) {
	long := make([]byte, 0, 14)
	long = append(long, 0x81, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4) // 4 GiB announced
	closeFrame := func(code int) []byte {
		var b [2]byte
		binary.BigEndian.PutUint16(b[:], uint16(code))
		return clientFrame(true, ws.OpClose, string(b[:]))
	}
	tests := []struct {
		name    string
		in      []byte
		end     error // passed to End after the input, when the input did not end it
		code    int   // the close frame sent; 0 for none expected
		connErr error // what Conn.Err matches besides ErrClosed; nil for none
	}{
		{name: "peer closes 1000", in: closeFrame(1000), code: 1000},
		{name: "peer closes 4000", in: closeFrame(4000), code: 4000},
		{name: "peer closes without a code", in: clientFrame(true, ws.OpClose, ""), code: 1000},
		{name: "unmasked frame", in: []byte{0x81, 0x02, '{', '}'}, code: 1002},
		{name: "reserved opcode", in: []byte{0x83, 0x80, 0, 0, 0, 0}, code: 1002},
		{name: "too big", in: long, code: 1009},
		{name: "invalid UTF-8", in: []byte{0x81, 0x81, 0, 0, 0, 0, 0xff}, code: 1007},
		{name: "EOF mid-frame", in: clientFrame(true, ws.OpText, `{"id":1}`)[:4], end: io.EOF, code: 1000, connErr: io.ErrUnexpectedEOF},
		{name: "EOF", end: io.EOF, code: 1000, connErr: io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sess, h := newSession(t, nil)
			err := sess.Feed(tt.in)
			if tt.end != nil {
				require.NoError(t, err)
				sess.End(tt.end)
			} else {
				var ce *session.CloseError
				require.ErrorAs(t, err, &ce)
			}
			require.ErrorIs(t, sess.Feed([]byte{0x81}), session.ErrEnded)
			require.Equal(t, 1, h.dropCount(), "dropped once, at once")
			fs := h.frames(t)
			require.NotEmpty(t, fs)
			last := fs[len(fs)-1]
			require.Equal(t, ws.OpClose, last.Header.OpCode)
			require.Equal(t, tt.code, closeCodeOf(last))
			if tt.connErr != nil {
				require.ErrorIs(t, sess.Conn().Err(), tt.connErr)
			}
		})
	}
}

// A close begun on this side waits for the peer's answer, then drops.
func TestCloseHandshake(t *testing.T) {
	sess, h := newSession(t, nil)
	require.NoError(t, sess.Conn().CloseWithError(4001, "bye", nil))
	fs := h.frames(t)
	require.Equal(t, 4001, closeCodeOf(fs[len(fs)-1]))
	require.Zero(t, h.dropCount(), "the peer has not answered yet")
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], 4001)
	err := sess.Feed(clientFrame(true, ws.OpClose, string(b[:])))
	var ce *session.CloseError
	require.ErrorAs(t, err, &ce)
	require.True(t, ce.Remote)
	require.Equal(t, 1, h.dropCount())
	require.Len(t, h.frames(t), len(fs), "no second close frame")
}

// A peer that never answers the close frame is dropped after CloseTimeout.
func TestCloseTimeout(t *testing.T) {
	sess, h := newSession(t, nil)
	require.NoError(t, sess.Conn().Close())
	require.Eventually(t, func() bool { return h.dropCount() == 1 }, session.CloseTimeout+5*time.Second, 10*time.Millisecond)
}

// FuzzFeed: whatever arrives, in whatever split, Feed neither panics nor
// hangs, and the connection is dropped at most once.
func FuzzFeed(f *testing.F) {
	f.Add(clientFrame(true, ws.OpText, `{"id":3,"method":"subtract","params":{"A":9,"B":1}}`), uint8(1))
	f.Add(append(clientFrame(false, ws.OpText, `{"id":`), clientFrame(true, ws.OpContinuation, `1}`)...), uint8(3))
	f.Add([]byte{0x81, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4}, uint8(2))
	f.Add(clientFrame(true, ws.OpPing, "x"), uint8(0))
	f.Fuzz(func(t *testing.T, in []byte, split uint8) {
		sess, h := newSession(t, &session.Config{MaxMessageSize: 1 << 16, WriteNeverBlocks: true})
		step := int(split)%7 + 1
		for off := 0; off < len(in); off += step {
			if sess.Feed(append([]byte(nil), in[off:min(off+step, len(in))]...)) != nil {
				break
			}
		}
		sess.End(io.EOF)
		require.Equal(t, 1, h.dropCount())
	})
}
