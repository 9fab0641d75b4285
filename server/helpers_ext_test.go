package server_test

import (
	"context"
	"sync"
	"testing"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/internal/testkit"
	"github.com/wsrpc/wsrpc-go/internal/testserver"
	"github.com/wsrpc/wsrpc-go/server"
)

// testRegistry is the introduction's routes plus routes for edge cases
// (testkit.Registry).
func testRegistry(t testing.TB) *wsrpc.Registry { return testkit.Registry(t) }

// forEachEngine runs fn once per server engine (ServeHTTP, goroutine,
// netpoll), as subtests named for the engine; WSRPC_TEST_ENGINE narrows it to
// one. Every test that starts a server runs inside it: newServer,
// newTestServer and startServer build and serve for the subtest's engine, and
// fail the test when called outside it. Convert a test with
//
//	func TestX(t *testing.T) {
//		forEachEngine(t, testX)
//	}
//
//	func testX(t *testing.T) { ...the body as it was... }
func forEachEngine(t *testing.T, fn func(t *testing.T)) { testserver.ForEachEngine(t, fn) }

// startServer serves srv on a loopback port and returns its WebSocket URL.
func startServer(t testing.TB, srv *server.Server) string {
	return listen(t, srv)
}

// newTestServer is server.New with the engine of the forEachEngine subtest.
func newTestServer(reg *wsrpc.Registry, opts *server.Options) *server.Server {
	return testserver.New(reg, opts)
}

func listen(t testing.TB, srv *server.Server) string { return testserver.Listen(t, srv) }

// recv returns the next value from ch, failing the test after
// testserver.WaitTimeout; what says what was awaited.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	return testserver.Recv(t, ch, what)
}

// waitClosed waits for ch to be closed (a Done channel), bounded.
func waitClosed[T any](t testing.TB, ch <-chan T, what string) {
	t.Helper()
	testserver.Closed(t, ch, what)
}

// waitGroup waits for wg, bounded.
func waitGroup(t testing.TB, wg *sync.WaitGroup, what string) {
	t.Helper()
	testserver.Wait(t, wg, what)
}

// newServer starts a server with the test routes and keepalive off
// (testkit.NewServer).
func newServer(t testing.TB, opts *server.Options) (*server.Server, string) {
	t.Helper()
	return testkit.NewServer(t, opts)
}

// rawConn is a bare WebSocket client that sends and reads exact frames.
type rawConn = testkit.RawConn

func dialRaw(t testing.TB, url string) *rawConn {
	t.Helper()
	return testkit.DialRaw(t, url)
}

func dial(t testing.TB, url string, reg *wsrpc.Registry, opts *client.Options) *client.Client {
	t.Helper()
	return testkit.Dial(t, url, reg, opts)
}

func testCtx(t testing.TB) context.Context { return testkit.Ctx(t) }
