package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/examples/introduction/intro"
	"github.com/wsrpc/wsrpc-go/internal/testserver"
	"github.com/wsrpc/wsrpc-go/internal/wsio"
	"github.com/wsrpc/wsrpc-go/server"
)

// Counter is a struct route whose Init is observable.
type Counter struct {
	wsrpc.Route `wsrpc:"proxy" methods:"Get,Add"`
	value       int
	inits       int
}

type counterState struct {
	Value int `json:"value"`
	Inits int `json:"inits"`
}

func (c *Counter) Init(ctx context.Context) string {
	c.value = 0
	c.inits++
	return "init ran"
}

func (c *Counter) Get(ctx context.Context) counterState {
	return counterState{c.value, c.inits}
}

func (c *Counter) Add(ctx context.Context, p struct {
	N int `json:"n"`
}) counterState {
	c.value += p.N
	return counterState{c.value, c.inits}
}

// Admin exposes every exported method but Shutdown.
type Admin struct {
	wsrpc.Route `wsrpc:"allowed" noproxy:"Shutdown"`
}

func (a *Admin) Status(ctx context.Context) string { return "ok" }
func (a *Admin) Shutdown(ctx context.Context)      {}

// testRegistry is the introduction's routes plus routes for edge cases.
func testRegistry(t testing.TB) *wsrpc.Registry {
	reg := intro.ServerRoutes()
	add := func(name string, h any) { require.NoError(t, reg.Add(name, h)) }
	add("subtract_positional", func(a, b json.Number) (json.Number, error) { return intro.Subtract(a, b) })
	add("negate", func(n int) int { return -n })
	add("names", func(p struct {
		Method string `json:"method"`
		Serial int    `json:"serial"`
		Self   string `json:"self"`
	}) any {
		return p
	})
	add("fail", func(p struct {
		Message string `json:"message"`
	}) error {
		return wsrpc.NewError("KeyError", p.Message)
	})
	add("panic", func() error { panic("boom") })
	add("nan", func() float64 { return math.NaN() })
	add("bytes", func() []byte { return []byte("\x00\x01hello") })
	add("counter", &Counter{})
	add("admin", &Admin{})
	add("sleep", func(ctx context.Context, p struct {
		Ms int `json:"ms"`
	}) (bool, error) {
		select {
		case <-time.After(time.Duration(p.Ms) * time.Millisecond):
			return true, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	})
	add("echo", func(p json.RawMessage) json.RawMessage { return p })
	return reg
}

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

// newServer starts a server with the test routes and keepalive off.
func newServer(t testing.TB, opts *server.Options) (*server.Server, string) {
	t.Helper()
	if opts == nil {
		opts = &server.Options{}
	}
	if opts.KeepaliveInterval == 0 {
		opts.KeepaliveInterval = -1
	}
	srv := newTestServer(testRegistry(t), opts)
	return srv, startServer(t, srv)
}

// rawConn is a bare WebSocket client that sends and reads exact frames.
type rawConn struct {
	t  testing.TB
	nc net.Conn
	rw io.ReadWriter // reads through the handshake's buffered reader
}

func dialRaw(t testing.TB, url string) *rawConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, br, _, err := ws.Dial(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	var r io.Reader = nc
	if br != nil {
		r = io.MultiReader(br, nc)
	}
	return &rawConn{t: t, nc: nc, rw: struct {
		io.Reader
		io.Writer
	}{r, nc}}
}

func (r *rawConn) send(s string) {
	r.t.Helper()
	require.NoError(r.t, wsutil.WriteClientText(r.nc, []byte(s)))
}

// read returns the next text message, failing the test after 5 s.
func (r *rawConn) read() string {
	r.t.Helper()
	msg, err := r.readErr(5 * time.Second)
	require.NoError(r.t, err)
	return msg
}

func (r *rawConn) readErr(timeout time.Duration) (string, error) {
	_ = r.nc.SetReadDeadline(time.Now().Add(timeout))
	for {
		data, op, err := wsutil.ReadServerData(r.rw)
		if err != nil {
			return "", err
		}
		if op == ws.OpText {
			return string(data), nil
		}
	}
}

// closeCode reads until the server closes and returns its close code. It
// parses frames itself (wsio) so that it does not write the close echo to a
// socket the server may already have dropped.
func (r *rawConn) closeCode() ws.StatusCode {
	r.t.Helper()
	_ = r.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	rd := wsio.NewReader(r.rw, wsio.Client, wsio.Limits{})
	for {
		_, _, err := rd.ReadMessage()
		var ce *wsio.CloseError
		if errors.As(err, &ce) {
			require.True(r.t, ce.Remote)
			return ce.Code
		}
		require.NoError(r.t, err, "expected a close frame")
	}
}

func dial(t testing.TB, url string, reg *wsrpc.Registry, opts *client.Options) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url, reg, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
