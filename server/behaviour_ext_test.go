package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/server"
)

func TestHooksOrderAndAuthorization(t *testing.T) {
	forEachEngine(t, testHooksOrderAndAuthorization)
}

func testHooksOrderAndAuthorization(t *testing.T) {
	var mu sync.Mutex
	var events []string
	record := func(s string) { mu.Lock(); events = append(events, s); mu.Unlock() }
	closed := make(chan struct{}, 2)
	hooks := &wsrpc.Hooks{
		OnOpen:        func(r *http.Request) { record("open") },
		OnAuthSuccess: func(r *http.Request) { record("auth-ok") },
		OnAuthFail:    func(r *http.Request) { record("auth-fail") },
		OnConnect:     func(context.Context, *wsrpc.Conn) error { record("connect"); return nil },
		OnClose:       func(c *wsrpc.Conn, err error) { record("close"); closed <- struct{}{} },
		OnCallStart:   func(ctx context.Context, ci *wsrpc.CallInfo) { record("start " + ci.Method) },
		OnCallSuccess: func(ctx context.Context, ci *wsrpc.CallInfo, res json.RawMessage) {
			record("success " + ci.Method + " " + string(res))
		},
		OnCallFail: func(ctx context.Context, ci *wsrpc.CallInfo, err error) {
			record("fail " + ci.Method + " " + err.Error())
		},
	}
	srv := newTestServer(testRegistry(t), &server.Options{
		Options:   wsrpc.Options{KeepaliveInterval: -1, Hooks: hooks},
		Authorize: func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer good" },
	})
	url := startServer(t, srv)
	ctx := testCtx(t)

	_, err := client.Dial(ctx, url, nil, &client.Options{Header: http.Header{"Authorization": {"Bearer bad"}}})
	var he *client.HandshakeError
	require.ErrorAs(t, err, &he)
	require.Equal(t, http.StatusForbidden, he.StatusCode)

	c, err := client.Dial(ctx, url, nil, &client.Options{Options: wsrpc.Options{KeepaliveInterval: -1}, // no ping among the hooks
		Header: http.Header{"Authorization": {"Bearer good"}}})
	require.NoError(t, err)
	require.NoError(t, c.Call(ctx, "subtract", map[string]int{"a": 5, "b": 2}, nil))
	require.Error(t, c.Call(ctx, "fail", map[string]string{"message": "m"}, nil))
	require.NoError(t, c.Close())
	recv(t, closed, "OnClose")
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{
		"open", "auth-fail",
		"open", "auth-ok", "connect",
		"start subtract", "success subtract 3",
		"start fail", "fail fail KeyError: m",
		"close",
	}, events)
}

func TestNonUpgradeRequestGets400(t *testing.T) {
	forEachEngine(t, testNonUpgradeRequestGets400)
}

func testNonUpgradeRequestGets400(t *testing.T) {
	_, url := newServer(t, nil)
	resp, err := http.Get("http" + strings.TrimPrefix(url, "ws"))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestHandlerSeesConnectionAndRequest(t *testing.T) {
	forEachEngine(t, testHandlerSeesConnectionAndRequest)
}

func testHandlerSeesConnectionAndRequest(t *testing.T) {
	reg := testRegistry(t)
	reg.MustAdd("whoami", func(ctx context.Context) map[string]string {
		c := wsrpc.ConnFromContext(ctx)
		cookie, _ := c.Request().Cookie("session")
		return map[string]string{"id": c.ID(), "token": c.Request().Header.Get("X-Token"), "session": cookie.Value,
			"remote": c.Request().RemoteAddr, "conn-remote": c.RemoteAddr().String()}
	})
	srv := newTestServer(reg, &server.Options{Options: wsrpc.Options{KeepaliveInterval: -1}})
	url := startServer(t, srv)
	c := dial(t, url, nil, &client.Options{Header: http.Header{"X-Token": {"t1"}, "Cookie": {"session=s1"}}})
	var who map[string]string
	require.NoError(t, c.Call(testCtx(t), "whoami", nil, &who))
	require.Equal(t, "t1", who["token"])
	require.Equal(t, "s1", who["session"])
	// The client's own address, on every engine (the netpoll engine keeps
	// no net.Conn: it asks the socket).
	local := c.Conn().LocalAddr()
	require.NotNil(t, local)
	require.Equal(t, local.String(), who["remote"])
	require.Equal(t, local.String(), who["conn-remote"])
	require.Len(t, srv.Clients(), 1)
	require.Equal(t, srv.Clients()[0].ID(), who["id"])
	require.Same(t, srv.Clients()[0], srv.Client(who["id"]))
}

func TestBroadcast(t *testing.T) {
	forEachEngine(t, testBroadcast)
}

func testBroadcast(t *testing.T) {
	srv, url := newServer(t, nil)
	for i := 0; i < 3; i++ {
		reg := wsrpc.NewRegistry()
		if i != 1 {
			reg.MustAdd("hello", func() int { return i })
		}
		dial(t, url, reg, nil)
		// Registration follows the 101 response: wait for it, so that the
		// connection order is the dial order.
		require.Eventually(t, func() bool { return len(srv.Clients()) == i+1 }, 2*time.Second, time.Millisecond)
	}
	var callbacks atomic.Int32
	results := srv.BroadcastFunc(testCtx(t), "hello", nil, func(server.BroadcastResult) { callbacks.Add(1) })
	require.Len(t, results, 3)
	require.Equal(t, int32(3), callbacks.Load())
	require.JSONEq(t, "0", string(results[0].Result))
	require.ErrorIs(t, results[1].Err, &wsrpc.Error{Type: "NotImplementedError"})
	require.JSONEq(t, "2", string(results[2].Result))
}

func TestShutdownLetsRunningCallsFinish(t *testing.T) {
	forEachEngine(t, testShutdownLetsRunningCallsFinish)
}

func testShutdownLetsRunningCallsFinish(t *testing.T) {
	srv, url := newServer(t, nil)
	c := dial(t, url, nil, nil)
	ctx := testCtx(t)
	errc := make(chan error, 1)
	go func() { errc <- c.Call(ctx, "sleep", map[string]int{"ms": 200}, nil) }()
	require.Eventually(t, func() bool { return len(srv.Clients()) == 1 }, time.Second, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, srv.Shutdown(ctx))
	require.NoError(t, recv(t, errc, "the running call's reply"), "the running call must be answered before the connection closes")
	waitClosed(t, c.Done(), "the client to see the close")
}

func TestMessageTooBigCloses1009(t *testing.T) {
	forEachEngine(t, testMessageTooBigCloses1009)
}

func testMessageTooBigCloses1009(t *testing.T) {
	_, url := newServer(t, &server.Options{Options: wsrpc.Options{MaxMessageSize: 1024}})
	c := dialRaw(t, url)
	c.Send(`{"id":1,"method":"echo","params":"` + strings.Repeat("x", 2048) + `"}`)
	require.Equal(t, ws.StatusMessageTooBig, c.CloseCode())
}

func TestHandlerContextEndsWithTheConnection(t *testing.T) {
	forEachEngine(t, testHandlerContextEndsWithTheConnection)
}

func testHandlerContextEndsWithTheConnection(t *testing.T) {
	type seen struct {
		conn    bool
		value   any
		err     error
		doneErr error
	}
	type key struct{}
	tests := []struct {
		name string
		end  func(srv *server.Server, c *client.Client)
	}{
		{"client closes", func(_ *server.Server, c *client.Client) { _ = c.Close() }},
		{"server closes", func(srv *server.Server, _ *client.Client) { _ = srv.Close() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			started := make(chan struct{})
			result := make(chan seen, 1)
			reg := wsrpc.NewRegistry()
			reg.MustAdd("wait", func(ctx context.Context) bool {
				s := seen{conn: wsrpc.ConnFromContext(ctx) != nil, value: ctx.Value(key{}), err: ctx.Err()}
				close(started)
				<-ctx.Done()
				s.doneErr = ctx.Err()
				result <- s
				return true
			})
			srv := newTestServer(reg, &server.Options{Options: wsrpc.Options{KeepaliveInterval: -1}})
			url := startServer(t, srv)
			c := dial(t, url, nil, nil)
			go func() { _ = c.Call(context.Background(), "wait", nil, nil) }()
			waitClosed(t, started, "the handler to start")
			tt.end(srv, c)
			select {
			case s := <-result:
				require.True(t, s.conn, "ConnFromContext finds the connection")
				require.Nil(t, s.value)
				require.NoError(t, s.err, "not cancelled while the connection is up")
				require.ErrorIs(t, s.doneErr, context.Canceled)
			case <-time.After(5 * time.Second):
				t.Fatal("the handler's context was not cancelled when the connection ended")
			}
		})
	}
}

func TestOnConnectErrorClosesTheConnection(t *testing.T) {
	forEachEngine(t, testOnConnectErrorClosesTheConnection)
}

// An OnConnect error closes that connection with wsrpc.CloseConnectRefused
// before any call of it runs, and OnClose sees why; a connection the hook
// accepts is served as usual.
func testOnConnectErrorClosesTheConnection(t *testing.T) {
	errFull := errors.New("room full")
	closed := make(chan error, 2)
	srv, url := newServer(t, &server.Options{Options: wsrpc.Options{Hooks: &wsrpc.Hooks{
		OnConnect: func(ctx context.Context, c *wsrpc.Conn) error {
			if wsrpc.ConnFromContext(ctx) != c {
				return errors.New("the hook's ctx does not carry its connection")
			}
			if c.Request().URL.Query().Get("room") == "full" {
				return errFull
			}
			return nil
		},
		OnClose: func(c *wsrpc.Conn, err error) { closed <- err },
	}}})

	tests := []struct {
		name    string
		query   string
		refused bool
	}{
		{"refused", "?room=full", true},
		{"accepted", "?room=open", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, url+tt.query)
			c.Send(`{"id":1,"method":"ping"}`)
			if !tt.refused {
				require.Equal(t, `{"id":1,"result":{}}`, c.Read())
				return
			}
			require.Equal(t, ws.StatusCode(wsrpc.CloseConnectRefused), c.CloseCode())
			// Echo the close, so that the server need not wait out the close timeout.
			_ = ws.WriteFrame(c.NC, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusInternalServerError, ""))))
			err := recv(t, closed, "OnClose of the refused connection")
			require.ErrorIs(t, err, wsrpc.ErrConnectRefused)
			require.ErrorIs(t, err, errFull)
			require.Eventually(t, func() bool { return len(srv.Clients()) == 0 }, 5*time.Second, time.Millisecond,
				"the refused connection is still a client")
		})
	}
}
