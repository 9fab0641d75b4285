package testkit

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/stretchr/testify/require"

	"github.com/wsrpc/wsrpc-go/internal/wsio"
)

// RawConn is a bare WebSocket client that sends and reads exact frames.
// Tests write frames of their own to NC and read them from RW.
type RawConn struct {
	T  testing.TB
	NC net.Conn
	RW io.ReadWriter // reads through the handshake's buffered reader
}

// DialRaw opens a RawConn to url within 5 s; it is closed when the test
// ends.
func DialRaw(t testing.TB, url string) *RawConn {
	t.Helper()
	r, _ := DialRawWith(t, url, ws.Dialer{})
	return r
}

// DialRawWith is DialRaw with d (to offer extensions, say), and returns the
// handshake too.
func DialRawWith(t testing.TB, url string, d ws.Dialer) (*RawConn, ws.Handshake) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, br, hs, err := d.Dial(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	var r io.Reader = nc
	if br != nil {
		r = io.MultiReader(br, nc)
	}
	return &RawConn{T: t, NC: nc, RW: struct {
		io.Reader
		io.Writer
	}{r, nc}}, hs
}

// Send writes s as one masked text message.
func (r *RawConn) Send(s string) {
	r.T.Helper()
	require.NoError(r.T, wsutil.WriteClientText(r.NC, []byte(s)))
}

// SendBinary writes s as one masked binary message.
func (r *RawConn) SendBinary(s string) {
	r.T.Helper()
	require.NoError(r.T, wsutil.WriteClientBinary(r.NC, []byte(s)))
}

// Read returns the next text message, failing the test after 5 s.
func (r *RawConn) Read() string {
	r.T.Helper()
	msg, err := r.ReadErr(5 * time.Second)
	require.NoError(r.T, err)
	return msg
}

// ReadErr returns the next text message, skipping other messages, or the
// error that ended the wait (timeout after the given time).
func (r *RawConn) ReadErr(timeout time.Duration) (string, error) {
	_ = r.NC.SetReadDeadline(time.Now().Add(timeout))
	for {
		data, op, err := wsutil.ReadServerData(r.RW)
		if err != nil {
			return "", err
		}
		if op == ws.OpText {
			return string(data), nil
		}
	}
}

// CloseCode reads until the server closes and returns its close code. It
// parses frames itself (wsio) so that it does not write the close echo to a
// socket the server may already have dropped.
func (r *RawConn) CloseCode() ws.StatusCode {
	r.T.Helper()
	_ = r.NC.SetReadDeadline(time.Now().Add(5 * time.Second))
	rd := wsio.NewReader(r.RW, wsio.Client, wsio.Limits{})
	for {
		_, _, err := rd.ReadMessage()
		var ce *wsio.CloseError
		if errors.As(err, &ce) {
			require.True(r.T, ce.Remote)
			return ce.Code
		}
		require.NoError(r.T, err, "expected a close frame")
	}
}
