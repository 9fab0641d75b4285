package server_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/server"
)

// bufHost is a session.Host in memory.
type bufHost struct {
	mu    sync.Mutex
	out   bytes.Buffer
	drops int
}

func (h *bufHost) Write(b []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.out.Write(b)
}

func (h *bufHost) Drop() { h.mu.Lock(); h.drops++; h.mu.Unlock() }

func (h *bufHost) written() string { h.mu.Lock(); defer h.mu.Unlock(); return h.out.String() }

const upgradeHead = "GET /ws/ HTTP/1.1\r\nHost: example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

var peer = &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 4242}

// Upgrade runs the server's admission over head bytes: it waits for a whole
// head, refuses with the HTTP status Serve would answer, and admits with
// Identify's id.
func TestUpgradeAdmission(t *testing.T) {
	tests := []struct {
		name   string
		head   string
		opts   server.Options
		status string // "" for an upgrade
	}{
		{name: "admitted", head: upgradeHead},
		{name: "wrong path", head: strings.Replace(upgradeHead, "/ws/", "/x", 1), opts: server.Options{Path: "/ws/"}, status: "404"},
		{name: "authorize says no", head: upgradeHead, opts: server.Options{Authorize: func(*http.Request) bool { return false }}, status: "403"},
		{name: "too large", head: "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", server.DefaultMaxHandshakeSize), status: "431"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := server.New(nil, &tt.opts)
			defer srv.Close()
			h := new(bufHost)
			_, _, err := srv.Upgrade(h, []byte(tt.head[:20]), peer)
			if len(tt.head) < server.DefaultMaxHandshakeSize {
				require.ErrorIs(t, err, server.ErrIncompleteHead)
				require.Empty(t, h.written())
			}
			sess, n, err := srv.Upgrade(h, []byte(tt.head+"more"), peer)
			if tt.status != "" {
				require.ErrorIs(t, err, server.ErrRefused)
				require.Nil(t, sess)
				require.True(t, strings.HasPrefix(h.written(), "HTTP/1.1 "+tt.status), "response %q", h.written())
				return
			}
			require.NoError(t, err)
			require.Equal(t, len(tt.head), n, "the head's length: the rest are frames")
			require.Contains(t, h.written(), "101 Switching Protocols")
			require.Equal(t, peer, sess.Conn().RemoteAddr())
		})
	}
}

// A session from Upgrade serves calls, is found by the id Identify gave,
// and leaves the server (Shutdown does not wait for it) once dropped.
func TestUpgradeServesUntilDropped(t *testing.T) {
	reg := wsrpc.NewRegistry()
	reg.MustAdd("subtract", func(ctx context.Context, p struct{ A, B int }) int { return p.A - p.B })
	srv := server.New(reg, &server.Options{
		Options:  wsrpc.Options{KeepaliveInterval: -1},
		Identify: func(*http.Request) (string, any, error) { return "device-42", nil, nil },
	})
	h := new(bufHost)
	sess, n, err := srv.Upgrade(h, []byte(upgradeHead), peer)
	require.NoError(t, err)
	require.Equal(t, len(upgradeHead), n)
	require.Same(t, sess.Conn(), srv.Client("device-42"))

	call, err := ws.CompileFrame(ws.MaskFrameInPlace(ws.NewTextFrame([]byte(`{"id":3,"method":"subtract","params":{"A":1,"B":9}}`))))
	require.NoError(t, err)
	require.NoError(t, sess.Feed(call))
	require.Eventually(t, func() bool { return strings.Contains(h.written(), `{"id":3,"result":-8}`) }, 5*time.Second, time.Millisecond)

	closeFrame, err := ws.CompileFrame(ws.MaskFrameInPlace(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
	require.NoError(t, err)
	require.Error(t, sess.Feed(closeFrame), "the peer's close ends the session")
	require.Equal(t, 1, h.drops)
	require.Nil(t, srv.Client("device-42"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx), "no connection left to wait for")
}
