// Package testserver starts wsrpc servers for the behaviour suites, under
// every engine: ForEachEngine runs a test once per engine as subtests named
// "http" (ServeHTTP under net/http), "goroutine" and "netpoll" (Serve with
// that engine; netpoll on Linux only), and New and Listen inside it build and
// serve the server the way that subtest's engine says.
//
// WSRPC_TEST_ENGINE=goroutine (or http, netpoll) narrows a run to one engine;
// an unknown name fails the run instead of running nothing.
package testserver

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/server"
)

// HTTP names the ServeHTTP engine of the suites: the server mounted on a
// net/http server.
const HTTP = "http"

// EnvEngine is the environment variable that narrows the suites to one
// engine.
const EnvEngine = "WSRPC_TEST_ENGINE"

// All returns every engine this platform runs: HTTP, goroutine and, on
// Linux, netpoll (elsewhere netpoll falls back to goroutine).
func All() []string {
	all := []string{HTTP, server.EngineGoroutine}
	if runtime.GOOS == "linux" {
		all = append(all, server.EngineNetpoll)
	}
	return all
}

// Engines returns the engines the suites run under: All, or the one that
// WSRPC_TEST_ENGINE names. An unknown name is an error, so that a typo does
// not run nothing.
func Engines() ([]string, error) {
	want := os.Getenv(EnvEngine)
	if want == "" {
		return All(), nil
	}
	for _, e := range All() {
		if e == want {
			return []string{e}, nil
		}
	}
	return nil, fmt.Errorf("testserver: %s=%q is not an engine of this platform; use one of %s, or unset it to run all",
		EnvEngine, want, strings.Join(All(), ", "))
}

var (
	mu      sync.Mutex
	current string // the engine of the running ForEachEngine subtest
)

// Current returns the engine of the running ForEachEngine subtest, or ""
// outside one.
func Current() string {
	mu.Lock()
	defer mu.Unlock()
	return current
}

// ForEachEngine runs fn as one subtest per engine of Engines, named for the
// engine. Servers that fn starts with New and Listen use that engine. The
// subtests run one after another: fn must not call t.Parallel.
func ForEachEngine(t *testing.T, fn func(t *testing.T)) {
	t.Helper()
	engines, err := Engines()
	require.NoError(t, err)
	for _, e := range engines {
		t.Run(e, func(t *testing.T) {
			mu.Lock()
			prev := current
			current = e
			mu.Unlock()
			defer func() {
				mu.Lock()
				current = ""
				mu.Unlock()
			}()
			if prev != "" {
				t.Fatalf("testserver: ForEachEngine(%s) started while the %s subtest still runs: "+
					"ForEachEngine subtests must not be nested or call t.Parallel", e, prev)
			}
			fn(t)
		})
	}
}

// serving reports whether engine is one of Serve's (not ServeHTTP).
func serving(engine string) bool {
	return engine == server.EngineGoroutine || engine == server.EngineNetpoll
}

// New is server.New with the engine of the running ForEachEngine subtest.
func New(reg *wsrpc.Registry, opts *server.Options) *server.Server {
	if opts == nil {
		opts = &server.Options{}
	}
	if e := Current(); serving(e) {
		opts.Engine = e
	}
	return server.New(reg, opts)
}

// Listen serves srv on a loopback port the way the running ForEachEngine
// subtest's engine says and returns its WebSocket URL; the server is closed
// when the test ends. Outside ForEachEngine it fails the test: a behaviour
// test runs under every engine.
func Listen(t testing.TB, srv *server.Server) string {
	t.Helper()
	return listen(t, srv, 0)
}

// ListenSendBuffer is Listen with the kernel's send buffer of every
// accepted connection set to about sndbuf bytes (set on the listening
// socket, which its connections inherit, so every engine takes them as
// usual). A test of a peer that stops reading then sees the server's
// queue fill, and the peer's backlog stay small, whatever the machine's
// TCP autotuning would make of them.
func ListenSendBuffer(t testing.TB, srv *server.Server, sndbuf int) string {
	t.Helper()
	return listen(t, srv, sndbuf)
}

func listen(t testing.TB, srv *server.Server, sndbuf int) string {
	t.Helper()
	engine := Current()
	if engine == "" {
		t.Fatalf("testserver: %s started a server outside ForEachEngine: "+
			"wrap the test, e.g. func TestX(t *testing.T) { forEachEngine(t, testX) }, so that it runs under every engine", t.Name())
	}
	if !strings.Contains(t.Name()+"/", "/"+engine+"/") {
		t.Fatalf("testserver: %s is not inside the %s subtest of ForEachEngine (t.Parallel, or a server started from another test?)", t.Name(), engine)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	if sndbuf > 0 {
		rc, err := ln.(*net.TCPListener).SyscallConn()
		require.NoError(t, err)
		var serr error
		require.NoError(t, rc.Control(func(fd uintptr) { serr = setSendBuffer(fd, sndbuf) }))
		require.NoError(t, serr)
	}
	url := "ws://" + ln.Addr().String() + "/ws/"
	if serving(engine) {
		require.Equal(t, engine, srv.Engine(), "make the server with testserver.New inside ForEachEngine")
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close(); _ = ln.Close() })
		return url
	}
	mux := http.NewServeMux()
	mux.Handle("/ws/", srv)
	hs := &http.Server{Handler: mux}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		_ = hs.Close()
	})
	return url
}
