package wsrpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/examples/introduction/intro"
	"github.com/wsrpc/wsrpc-go/internal/testkit"
	"github.com/wsrpc/wsrpc-go/server"
)

func dial(t testing.TB, url string, reg *wsrpc.Registry, opts *client.Options) *client.Client {
	t.Helper()
	return testkit.Dial(t, url, reg, opts)
}

func testCtx(t testing.TB) context.Context { return testkit.Ctx(t) }

func TestIntroductionInGo(t *testing.T) {
	forEachEngine(t, testIntroductionInGo)
}

func testIntroductionInGo(t *testing.T) {
	_, url := newServer(t, nil)
	c := dial(t, url, intro.ClientRoutes(), nil)
	ctx := testCtx(t)

	diff, err := wsrpc.Call[int](ctx, c, "subtract", map[string]int{"a": 1, "b": 9})
	require.NoError(t, err)
	require.Equal(t, -8, diff)

	ok, err := wsrpc.Call[bool](ctx, c, "kv.set", map[string]string{"key": "foo", "value": "bar"})
	require.NoError(t, err)
	require.True(t, ok)

	kvGet := wsrpc.Proxy[map[string]string, string]("kv.get")
	v, err := kvGet(ctx, c, map[string]string{"key": "foo"})
	require.NoError(t, err)
	require.Equal(t, "bar", v)

	product, err := wsrpc.Call[int](ctx, c, "multiply_loopback", nil)
	require.NoError(t, err)
	require.Equal(t, 200, product)
}

func TestKVStateIsPerConnection(t *testing.T) {
	forEachEngine(t, testKVStateIsPerConnection)
}

func testKVStateIsPerConnection(t *testing.T) {
	_, url := newServer(t, nil)
	ctx := testCtx(t)
	a, b := dial(t, url, nil, nil), dial(t, url, nil, nil)
	require.NoError(t, a.Call(ctx, "kv.set", map[string]any{"key": "k", "value": 1}, nil))
	var got json.RawMessage
	require.NoError(t, b.Call(ctx, "kv.get", map[string]any{"key": "k"}, &got))
	require.JSONEq(t, "null", string(got))
	require.NoError(t, a.Call(ctx, "kv.get", map[string]any{"key": "k"}, &got))
	require.JSONEq(t, "1", string(got))
}

func TestRemoteErrors(t *testing.T) {
	forEachEngine(t, testRemoteErrors)
}

func testRemoteErrors(t *testing.T) {
	_, url := newServer(t, nil)
	c := dial(t, url, nil, nil)
	ctx := testCtx(t)
	tests := []struct {
		method, params, typ, msg string
	}{
		{"nope", `{}`, "NotImplementedError", `Callback function "nope" not implemented`},
		{"fail", `{"message":"gone"}`, "KeyError", "gone"},
		{"kv.delete_all", `{}`, "NotImplementedError", "Method not implemented: kv.delete_all is not exposed (kv exposes kv.get, kv.set)"},
		{"admin.shutdown", `{}`, "NotImplementedError", "Method masked: admin.shutdown is not callable (noproxy)"},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			err := c.Call(ctx, tt.method, json.RawMessage(tt.params), nil)
			var e *wsrpc.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tt.typ, e.Type)
			require.Equal(t, tt.msg, e.Message)
			require.JSONEq(t, fmt.Sprintf(`{"type":%q,"message":%q}`, tt.typ, tt.msg), string(e.Raw))
			require.ErrorIs(t, err, &wsrpc.Error{Type: tt.typ})
		})
	}
}

func TestCallContextBoundsTheWait(t *testing.T) {
	forEachEngine(t, testCallContextBoundsTheWait)
}

func testCallContextBoundsTheWait(t *testing.T) {
	_, url := newServer(t, nil)
	c := dial(t, url, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := c.Call(ctx, "sleep", map[string]int{"ms": 5000}, nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	// The connection is still usable.
	var r json.RawMessage
	require.NoError(t, c.Call(testCtx(t), "ping", map[string]int{"n": 1}, &r))
	require.JSONEq(t, `{"n":1}`, string(r))
}

func TestCallTimeoutOption(t *testing.T) {
	forEachEngine(t, testCallTimeoutOption)
}

func testCallTimeoutOption(t *testing.T) {
	_, url := newServer(t, nil)
	c := dial(t, url, nil, &client.Options{Options: wsrpc.Options{CallTimeout: 50 * time.Millisecond}})
	err := c.Call(context.Background(), "sleep", map[string]int{"ms": 5000}, nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestPendingCallsFailOnClose(t *testing.T) {
	forEachEngine(t, testPendingCallsFailOnClose)
}

func testPendingCallsFailOnClose(t *testing.T) {
	srv, url := newServer(t, nil)
	c := dial(t, url, nil, nil)
	ctx := testCtx(t)
	errc := make(chan error, 1)
	go func() { errc <- c.Call(ctx, "sleep", map[string]int{"ms": 5000}, nil) }()
	require.Eventually(t, func() bool { return len(srv.Clients()) == 1 }, 2*time.Second, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, srv.Clients()[0].Close())
	select {
	case err := <-errc:
		require.ErrorIs(t, err, wsrpc.ErrClosed)
	case <-time.After(3 * time.Second):
		t.Fatal("pending call did not fail when the connection closed")
	}
	waitClosed(t, c.Done(), "the client to see the close")
	require.ErrorIs(t, c.Call(ctx, "ping", nil, nil), wsrpc.ErrClosed)
}

func TestConcurrencyLimitRefusesExcessCalls(t *testing.T) {
	forEachEngine(t, testConcurrencyLimitRefusesExcessCalls)
}

func testConcurrencyLimitRefusesExcessCalls(t *testing.T) {
	_, url := newServer(t, &server.Options{Options: wsrpc.Options{MaxConcurrentRequests: 2, MaxQueuedRequests: 1}})
	c := dialRaw(t, url)
	for id := 1; id <= 4; id++ {
		c.Send(fmt.Sprintf(`{"id":%d,"method":"sleep","params":{"ms":300}}`, id))
	}
	first := c.Read()
	require.Regexp(t, `^\{"id":4,"error":\{"type":"RuntimeError","message":"too many requests.*MaxConcurrentRequests=2.*"\}\}$`, first)
	got := map[string]bool{}
	for i := 0; i < 3; i++ {
		got[c.Read()] = true
	}
	for id := 1; id <= 3; id++ {
		require.True(t, got[fmt.Sprintf(`{"id":%d,"result":true}`, id)], "call %d not answered: %v", id, got)
	}
}

func TestFireAndForgetThenDependentCall(t *testing.T) {
	forEachEngine(t, testFireAndForgetThenDependentCall)
}

func testFireAndForgetThenDependentCall(t *testing.T) {
	_, url := newServer(t, nil)
	c := dialRaw(t, url)
	for i := 0; i < 50; i++ {
		c.Send(fmt.Sprintf(`{"id":%d,"method":"kv.set","params":{"key":"k","value":%d}}`, 2*i+1, i))
		c.Send(fmt.Sprintf(`{"id":%d,"method":"kv.get","params":{"key":"k"}}`, 2*i+2))
	}
	results := map[string]string{}
	for i := 0; i < 100; i++ {
		var m struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
		}
		require.NoError(t, json.Unmarshal([]byte(c.Read()), &m))
		results[fmt.Sprint(m.ID)] = string(m.Result)
	}
	for i := 0; i < 50; i++ {
		require.Equal(t, fmt.Sprint(i), results[fmt.Sprint(2*i+2)], "kv.get %d must see the kv.set before it", i)
	}
}

// Probe is a struct route that records how many of its calls overlap.
type Probe struct {
	wsrpc.Route `wsrpc:"proxy" methods:"Slow,Back"`
	active      *atomic.Int32
	maxActive   *atomic.Int32
}

func (p *Probe) Slow(ctx context.Context) int32 {
	n := p.active.Add(1)
	defer p.active.Add(-1)
	for {
		m := p.maxActive.Load()
		if n <= m || p.maxActive.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(20 * time.Millisecond)
	return p.maxActive.Load()
}

// Back calls the peer's "call_back", which calls probe.slow on this same
// instance: no deadlock, because the instance is released while Back waits.
func (p *Probe) Back(ctx context.Context) (json.RawMessage, error) {
	var r json.RawMessage
	err := wsrpc.ConnFromContext(ctx).Call(ctx, "call_back", nil, &r)
	return r, err
}

func TestStructInstanceRunsOneCallAtATime(t *testing.T) {
	forEachEngine(t, testStructInstanceRunsOneCallAtATime)
}

func testStructInstanceRunsOneCallAtATime(t *testing.T) {
	reg := testRegistry(t)
	var active, maxActive atomic.Int32
	require.NoError(t, reg.Add("probe", &Probe{active: &active, maxActive: &maxActive}))
	srv := newTestServer(reg, &server.Options{Options: wsrpc.Options{KeepaliveInterval: -1}})
	url := startServer(t, srv)

	creg := wsrpc.NewRegistry()
	creg.MustAdd("call_back", func(ctx context.Context) (json.RawMessage, error) {
		var r json.RawMessage
		err := wsrpc.ConnFromContext(ctx).Call(ctx, "probe.slow", nil, &r)
		return r, err
	})
	c := dial(t, url, creg, nil)
	ctx := testCtx(t)
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, c.Call(ctx, "probe.slow", nil, nil))
		}()
	}
	waitGroup(t, &wg, "the five calls")
	require.Equal(t, int32(1), maxActive.Load(), "calls to one struct instance overlapped")

	var r int
	require.NoError(t, c.Call(ctx, "probe.back", nil, &r))
	require.Equal(t, 1, r)
}

func TestSameIDCallsRunOneAfterAnother(t *testing.T) {
	forEachEngine(t, testSameIDCallsRunOneAfterAnother)
}

func testSameIDCallsRunOneAfterAnother(t *testing.T) {
	reg := testRegistry(t)
	var active, maxActive atomic.Int32
	require.NoError(t, reg.Add("probe_fn", func() int32 {
		return (&Probe{active: &active, maxActive: &maxActive}).Slow(context.Background())
	}))
	srv := newTestServer(reg, &server.Options{Options: wsrpc.Options{KeepaliveInterval: -1}})
	c := dialRaw(t, startServer(t, srv))
	for i := 0; i < 3; i++ {
		c.Send(`{"id":7,"method":"probe_fn"}`)
	}
	for i := 0; i < 3; i++ {
		require.Equal(t, `{"id":7,"result":1}`, c.Read())
	}
	// Different ids of a function route do run concurrently.
	maxActive.Store(0)
	for i := 1; i <= 3; i++ {
		c.Send(fmt.Sprintf(`{"id":%d,"method":"probe_fn"}`, i))
	}
	var maxSeen string
	for i := 0; i < 3; i++ {
		maxSeen = c.Read()
	}
	require.Contains(t, maxSeen, `"result":`)
	require.Greater(t, maxActive.Load(), int32(1))
}

func TestHundredConcurrentLargeCalls(t *testing.T) {
	forEachEngine(t, testHundredConcurrentLargeCalls)
}

func testHundredConcurrentLargeCalls(t *testing.T) {
	_, url := newServer(t, nil)
	c := dial(t, url, nil, nil)
	ctx := testCtx(t)
	payload := strings.Repeat("x", 12*1024)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := fmt.Sprintf("%s%d", payload, i)
			var got struct {
				Data string `json:"data"`
			}
			if err := c.Call(ctx, "echo", map[string]string{"data": want}, &got); err != nil {
				errs <- err
				return
			}
			if got.Data != want {
				errs <- fmt.Errorf("call %d: payload corrupted", i)
			}
		}()
	}
	waitGroup(t, &wg, "the hundred calls")
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func TestEventsBothWays(t *testing.T) {
	forEachEngine(t, testEventsBothWays)
}

func testEventsBothWays(t *testing.T) {
	serverEvents := make(chan string, 1)
	srv := newTestServer(testRegistry(t), &server.Options{Options: wsrpc.Options{
		KeepaliveInterval: -1,
		OnEvent:           func(c *wsrpc.Conn, ev json.RawMessage) { serverEvents <- string(ev) },
	}})
	url := startServer(t, srv)
	clientEvents := make(chan string, 1)
	c := dial(t, url, nil, &client.Options{Options: wsrpc.Options{
		OnEvent: func(c *wsrpc.Conn, ev json.RawMessage) { clientEvents <- string(ev) },
	}})
	ctx := testCtx(t)
	require.NoError(t, c.Emit(ctx, map[string]string{"from": "client"}))
	require.JSONEq(t, `{"from":"client"}`, recv(t, serverEvents, "the client's event"))
	require.Eventually(t, func() bool { return len(srv.Clients()) == 1 }, time.Second, 5*time.Millisecond)
	require.NoError(t, srv.Emit(ctx, map[string]string{"from": "server"}))
	require.JSONEq(t, `{"from":"server"}`, recv(t, clientEvents, "the server's event"))
	require.Error(t, c.Emit(ctx, map[string]int{"id": 1}), "an event must not carry an id")
}

func TestRoutesAddedAndRemovedWhileConnected(t *testing.T) {
	forEachEngine(t, testRoutesAddedAndRemovedWhileConnected)
}

func testRoutesAddedAndRemovedWhileConnected(t *testing.T) {
	srv, url := newServer(t, nil)
	c := dial(t, url, nil, nil)
	ctx := testCtx(t)
	require.Error(t, c.Call(ctx, "late", nil, nil))
	require.NoError(t, srv.Registry().Add("late", func() string { return "here" }))
	v, err := wsrpc.Call[string](ctx, c, "late", nil)
	require.NoError(t, err)
	require.Equal(t, "here", v)
	require.NoError(t, srv.Registry().Remove("late"))
	require.ErrorIs(t, c.Call(ctx, "late", nil, nil), &wsrpc.Error{Type: "NotImplementedError"})
	require.ErrorIs(t, srv.Registry().Remove("late"), wsrpc.ErrRouteNotFound)
}

// Closer is a struct route with an OnClose hook.
type Closer struct {
	wsrpc.Route `wsrpc:"proxy" methods:"Touch"`
	closed      chan string
}

func (c *Closer) Touch(ctx context.Context) string { return wsrpc.ConnFromContext(ctx).ID() }
func (c *Closer) OnClose(ctx context.Context) {
	c.closed <- wsrpc.ConnFromContext(ctx).ID()
}

func TestStructOnCloseRunsWhenConnectionCloses(t *testing.T) {
	forEachEngine(t, testStructOnCloseRunsWhenConnectionCloses)
}

func testStructOnCloseRunsWhenConnectionCloses(t *testing.T) {
	reg := testRegistry(t)
	closed := make(chan string, 1)
	require.NoError(t, reg.Add("closer", &Closer{closed: closed}))
	srv := newTestServer(reg, &server.Options{Options: wsrpc.Options{KeepaliveInterval: -1}})
	c := dial(t, startServer(t, srv), nil, nil)
	id, err := wsrpc.Call[string](testCtx(t), c, "closer.touch", nil)
	require.NoError(t, err)
	require.Error(t, c.Call(testCtx(t), "closer.on_close", nil, nil), "OnClose must not be callable")
	require.NoError(t, c.Close())
	select {
	case got := <-closed:
		require.Equal(t, id, got)
	case <-time.After(3 * time.Second):
		t.Fatal("OnClose did not run")
	}
}

func TestReconnectRerunsOnConnect(t *testing.T) {
	forEachEngine(t, testReconnectRerunsOnConnect)
}

func testReconnectRerunsOnConnect(t *testing.T) {
	srv, url := newServer(t, nil)
	var connects atomic.Int32
	c := dial(t, url, nil, &client.Options{
		Reconnect:        true,
		ReconnectMinWait: 10 * time.Millisecond,
		Options: wsrpc.Options{Hooks: &wsrpc.Hooks{
			OnConnect: func(ctx context.Context, conn *wsrpc.Conn) error {
				connects.Add(1)
				return conn.Call(ctx, "kv.set", map[string]string{"key": "session", "value": "restored"}, nil)
			},
		}},
	})
	ctx := testCtx(t)
	require.Equal(t, int32(1), connects.Load())
	require.Eventually(t, func() bool { return len(srv.Clients()) == 1 }, time.Second, 5*time.Millisecond)
	require.NoError(t, srv.Clients()[0].Close())
	require.Eventually(t, func() bool { return connects.Load() == 2 }, 5*time.Second, 5*time.Millisecond)
	v, err := wsrpc.Call[string](ctx, c, "kv.get", map[string]string{"key": "session"})
	require.NoError(t, err)
	require.Equal(t, "restored", v)
}

func TestClientDialUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := client.Dial(ctx, "ws://127.0.0.1:1/ws/", nil, nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "connect to ws://127.0.0.1:1/ws/")
	require.False(t, errors.Is(err, context.DeadlineExceeded))
}

// Lingerer is a struct route whose Stay outlives its connection: it returns
// only once release is closed, whatever its context says.
type Lingerer struct {
	wsrpc.Route `wsrpc:"proxy" methods:"Stay"`
	started     chan struct{}
	release     chan struct{}
	returned    atomic.Bool
	closed      chan bool // OnClose sends whether Stay had returned
}

func (l *Lingerer) Stay(ctx context.Context) {
	l.started <- struct{}{}
	<-l.release
	l.returned.Store(true)
}

func (l *Lingerer) OnClose(ctx context.Context) { l.closed <- l.returned.Load() }

func TestStructOnCloseWaitsForRunningCalls(t *testing.T) {
	forEachEngine(t, testStructOnCloseWaitsForRunningCalls)
}

// A struct route's OnClose runs once every call of the closed connection
// has returned, so it never races the route's own methods.
func testStructOnCloseWaitsForRunningCalls(t *testing.T) {
	reg := testRegistry(t)
	l := &Lingerer{started: make(chan struct{}, 1), release: make(chan struct{}), closed: make(chan bool, 1)}
	require.NoError(t, reg.Add("lingerer", l))
	srv := newTestServer(reg, &server.Options{Options: wsrpc.Options{KeepaliveInterval: -1}})
	c := dial(t, startServer(t, srv), nil, nil)
	go func() { _ = c.Call(context.Background(), "lingerer.stay", nil, nil) }()
	recv(t, l.started, "Stay started")
	require.NoError(t, c.Close())
	select {
	case <-l.closed:
		t.Fatal("OnClose ran while Stay was still running")
	case <-time.After(200 * time.Millisecond):
	}
	close(l.release)
	require.True(t, recv(t, l.closed, "OnClose"), "OnClose ran after Stay returned")
}
