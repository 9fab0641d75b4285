// Package testserver starts wsrpc servers for tests the way the
// WSRPC_TEST_ENGINE environment variable says: "http" (ServeHTTP under
// net/http, the default), "goroutine" or "netpoll" (Serve with that
// engine). The Makefile runs the behaviour suites under each.
package testserver

import (
	"net"
	"net/http"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/server"
)

// Engine is the engine the tests run under.
var Engine = os.Getenv("WSRPC_TEST_ENGINE")

func serving() bool { return Engine == server.EngineGoroutine || Engine == server.EngineNetpoll }

// New is server.New with the engine of the run.
func New(reg *wsrpc.Registry, opts *server.Options) *server.Server {
	if opts == nil {
		opts = &server.Options{}
	}
	if serving() {
		opts.Engine = Engine
	}
	return server.New(reg, opts)
}

// Listen serves srv on a loopback port and returns its WebSocket URL; the
// server is closed when the test ends.
func Listen(t testing.TB, srv *server.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	if serving() {
		require.Equal(t, Engine, srv.Engine())
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close(); _ = ln.Close() })
		return "ws://" + ln.Addr().String() + "/ws/"
	}
	mux := http.NewServeMux()
	mux.Handle("/ws/", srv)
	hs := &http.Server{Handler: mux}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		_ = hs.Close()
	})
	return "ws://" + ln.Addr().String() + "/ws/"
}
