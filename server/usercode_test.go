package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/internal/safely"
	"github.com/wsrpc/wsrpc-go/server"
)

// engines are the ways a server runs: Serve with each engine, and
// ServeHTTP under net/http.
var engines = []string{server.EngineNetpoll, server.EngineGoroutine, "http"}

// serveOn starts srv's engine on a loopback port and returns the address
// and the WebSocket URL.
func serveOn(t *testing.T, engine string, reg *wsrpc.Registry, opts server.Options) (addr, url string) {
	t.Helper()
	if opts.KeepaliveInterval == 0 {
		opts.KeepaliveInterval = -1
	}
	if engine != "http" {
		opts.Engine = engine
	}
	srv := server.New(reg, &opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	if engine == "http" {
		hs := &http.Server{Handler: srv}
		go func() { _ = hs.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close(); _ = hs.Close() })
	} else {
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close(); _ = ln.Close() })
	}
	return ln.Addr().String(), "ws://" + ln.Addr().String() + "/ws/"
}

// logs captures log records.
type logs struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logs) Enabled(context.Context, slog.Level) bool { return true }
func (l *logs) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
	return nil
}
func (l *logs) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logs) WithGroup(string) slog.Handler      { return l }

// panicked waits (5 s at most) for the record of a recovered panic in
// what, and returns its panic value and stack.
func (l *logs) panicked(t *testing.T, what string) (value, stack string) {
	t.Helper()
	require.Eventually(t, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, r := range l.recs {
			attrs := map[string]string{}
			r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
			if r.Message == safely.Msg && attrs["in"] == what {
				value, stack = attrs["panic"], attrs["stack"]
				return true
			}
		}
		return false
	}, 5*time.Second, 5*time.Millisecond, "no log record of a panic in %s", what)
	return value, stack
}

func (l *logs) find(msg string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.recs {
		if strings.Contains(r.Message, msg) {
			return true
		}
	}
	return false
}

// upgradeStatus sends a plain upgrade request (the form the quick upgrade
// admits) with extra header lines and returns the response's status.
func upgradeStatus(t *testing.T, addr string, extra ...string) int {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET /ws/ HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	for _, h := range extra {
		req += h + "\r\n"
	}
	_, err = nc.Write([]byte(req + "\r\n"))
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		return 0 // closed without an answer
	}
	return resp.StatusCode
}

// wsClient is a bare client that sends calls and reads replies.
type wsClient struct {
	t  *testing.T
	nc net.Conn
}

func dialWS(t *testing.T, url string, header ...string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := ws.Dialer{}
	if len(header) == 2 {
		d.Header = ws.HandshakeHeaderHTTP(http.Header{header[0]: {header[1]}})
	}
	nc, br, _, err := d.Dial(ctx, url)
	require.NoError(t, err)
	require.Nil(t, br, "the test sends nothing before the 101")
	t.Cleanup(func() { _ = nc.Close() })
	return &wsClient{t: t, nc: nc}
}

// call sends a call and returns its reply (10 s at most).
func (c *wsClient) call(id int, method string, params any) map[string]any {
	c.t.Helper()
	p, _ := json.Marshal(params)
	msg := fmt.Sprintf(`{"id":%d,"method":%q,"params":%s}`, id, method, p)
	require.NoError(c.t, wsutil.WriteClientText(c.nc, []byte(msg)))
	_ = c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		data, op, err := wsutil.ReadServerData(c.nc)
		require.NoError(c.t, err)
		if op != ws.OpText {
			continue
		}
		var reply map[string]any
		require.NoError(c.t, json.Unmarshal(data, &reply))
		if reply["method"] == nil { // not the server's keepalive ping
			return reply
		}
	}
}

// BoomInit is a struct route whose Init panics.
type BoomInit struct {
	wsrpc.Route `wsrpc:"proxy" methods:"Get"`
}

func (*BoomInit) Init(ctx context.Context)       { panic("secret-init") }
func (*BoomInit) Get(ctx context.Context) string { return "never" }

// BoomClose is a struct route whose OnClose panics.
type BoomClose struct {
	wsrpc.Route `wsrpc:"proxy" methods:"Get"`
}

func (*BoomClose) Get(ctx context.Context) string { return "got" }
func (*BoomClose) OnClose(ctx context.Context)    { panic("secret-onclose") }

func usercodeRoutes() *wsrpc.Registry {
	reg := wsrpc.NewRegistry()
	reg.MustAdd("fast", wsrpc.Inline(func() string { return "ok" }))
	reg.MustAdd("boom", func() error { panic("secret-boom") })
	reg.MustAdd("boom_init", &BoomInit{})
	reg.MustAdd("boom_close", &BoomClose{})
	return reg
}

// A panicking Authorize, CheckOrigin or request hook answers 500 to its
// request only, is logged with its stack, and the next upgrade works.
func TestUserPanicAtUpgradeAnswers500(t *testing.T) {
	boom := func(r *http.Request) bool { return r.Header.Get("X-Boom") != "" }
	for _, engine := range engines {
		for _, what := range []string{"Authorize", "CheckOrigin", "OnOpen", "OnAuthSuccess", "OnAuthFail"} {
			t.Run(engine+"/"+what, func(t *testing.T) {
				l := &logs{}
				opts := server.Options{}
				opts.Logger = slog.New(l)
				h := &wsrpc.Hooks{}
				opts.Hooks = h
				hook := func(r *http.Request) {
					if boom(r) {
						panic("secret-" + what)
					}
				}
				check := func(r *http.Request) bool { hook(r); return true }
				switch what {
				case "Authorize":
					opts.Authorize = check
				case "CheckOrigin":
					opts.CheckOrigin = check
				case "OnOpen":
					h.OnOpen = hook
				case "OnAuthSuccess":
					h.OnAuthSuccess = hook
				case "OnAuthFail":
					opts.Authorize = func(r *http.Request) bool { return !boom(r) }
					h.OnAuthFail = hook
				}
				addr, url := serveOn(t, engine, usercodeRoutes(), opts)
				require.Equal(t, http.StatusInternalServerError, upgradeStatus(t, addr, "X-Boom: 1"))
				value, stack := l.panicked(t, what)
				require.Equal(t, "secret-"+what, value)
				require.Contains(t, stack, "usercode_test.go", "the stack reaches the panicking hook")
				require.Equal(t, "ok", dialWS(t, url).call(1, "fast", nil)["result"])
			})
		}
	}
}

// A panic in OnConnect, a handler, Init, the OnClose hook or a struct's
// OnClose is logged with its stack; the peer's error reply carries no
// panic text; the server keeps serving.
func TestUserPanicAfterUpgradeIsRecovered(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			l := &logs{}
			opts := server.Options{}
			opts.Logger = slog.New(l)
			opts.Hooks = &wsrpc.Hooks{
				OnConnect: func(context.Context, *wsrpc.Conn) error { panic("secret-onconnect") },
				OnClose:   func(c *wsrpc.Conn, err error) { panic("secret-hookclose") },
			}
			_, url := serveOn(t, engine, usercodeRoutes(), opts)
			c := dialWS(t, url)
			l.panicked(t, "OnConnect")

			for i, method := range []string{"boom", "boom_init.get"} {
				reply := c.call(i+1, method, nil)
				e, _ := reply["error"].(map[string]any)
				require.NotNil(t, e, "an error reply to %s: %v", method, reply)
				require.Equal(t, wsrpc.TypeRuntimeError, e["type"])
				require.Contains(t, e["message"], "the handler panicked")
				require.NotContains(t, e["message"], "secret")
				require.NotContains(t, e["message"], "goroutine")
			}
			_, stack := l.panicked(t, `"boom"`)
			require.Contains(t, stack, "usercode_test.go")
			_, stack = l.panicked(t, `"boom_init.get"`)
			require.Contains(t, stack, "(*BoomInit).Init")

			require.Equal(t, "got", c.call(3, "boom_close.get", nil)["result"])
			_ = c.nc.Close()
			l.panicked(t, "OnClose")
			_, stack = l.panicked(t, `OnClose of route "boom_close" (BoomClose)`)
			require.Contains(t, stack, "(*BoomClose).OnClose")

			require.Equal(t, "ok", dialWS(t, url).call(1, "fast", nil)["result"])
		})
	}
}

// The quick upgrade never admits when CheckOrigin or Authorize is set:
// a plain request they refuse gets 403 on every engine.
func TestQuickUpgradeHonoursCheckOriginAndAuthorize(t *testing.T) {
	no := func(*http.Request) bool { return false }
	for _, engine := range engines {
		for _, what := range []string{"CheckOrigin", "Authorize"} {
			t.Run(engine+"/"+what, func(t *testing.T) {
				opts := server.Options{}
				if what == "CheckOrigin" {
					opts.CheckOrigin = no
				} else {
					opts.Authorize = no
				}
				addr, _ := serveOn(t, engine, usercodeRoutes(), opts)
				require.Equal(t, http.StatusForbidden, upgradeStatus(t, addr))
				require.Equal(t, http.StatusForbidden, upgradeStatus(t, addr, "Origin: http://"+addr))
			})
		}
	}
}

// Eight upgrades whose Authorize takes 3 s do not hold up an unrelated
// upgrade: it is admitted and answered while all eight still wait.
func TestSlowAuthorizeDelaysOnlyItsOwnUpgrade(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			opts := server.Options{Authorize: func(r *http.Request) bool {
				if r.Header.Get("X-Slow") != "" {
					time.Sleep(3 * time.Second)
				}
				return true
			}}
			addr, url := serveOn(t, engine, usercodeRoutes(), opts)
			var slowDone atomic.Int32
			var wg sync.WaitGroup
			for i := 0; i < 8; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if upgradeStatus(t, addr, "X-Slow: 1") == http.StatusSwitchingProtocols {
						slowDone.Add(1)
					}
				}()
			}
			time.Sleep(200 * time.Millisecond) // the eight are in Authorize
			require.Equal(t, "ok", dialWS(t, url).call(1, "fast", nil)["result"])
			require.Zero(t, slowDone.Load(), "the unrelated upgrade was answered after a slow one")
			wg.Wait()
			require.EqualValues(t, 8, slowDone.Load())
		})
	}
}

// Under Serve, the request's context ends when the handshake times out, so
// an Authorize that waits on it gives up.
func TestHandshakeTimeoutEndsRequestContext(t *testing.T) {
	for _, engine := range []string{server.EngineNetpoll, server.EngineGoroutine} {
		t.Run(engine, func(t *testing.T) {
			seen := make(chan error, 1)
			opts := server.Options{HandshakeTimeout: 300 * time.Millisecond, Authorize: func(r *http.Request) bool {
				select {
				case <-r.Context().Done():
				case <-time.After(10 * time.Second):
				}
				seen <- r.Context().Err()
				return false
			}}
			addr, _ := serveOn(t, engine, usercodeRoutes(), opts)
			go upgradeStatus(t, addr)
			select {
			case err := <-seen:
				require.ErrorIs(t, err, context.DeadlineExceeded)
			case <-time.After(10 * time.Second):
				t.Fatal("Authorize's request context did not end with the handshake timeout")
			}
		})
	}
}

// An inline handler that turns out slow is demoted after two calls in a
// row past InlineBudget: a third slow call runs on a worker, and other
// clients (on every poller) finish their handshake and calls meanwhile.
func TestSlowInlineHandlerDoesNotBlockOthers(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			l := &logs{}
			opts := server.Options{}
			opts.Logger = slog.New(l)
			reg := usercodeRoutes()
			reg.MustAdd("spin", wsrpc.Inline(func(p struct{ Ms int }) bool {
				time.Sleep(time.Duration(p.Ms) * time.Millisecond) // stands for a long computation
				return true
			}))
			_, url := serveOn(t, engine, reg, opts)
			slow := dialWS(t, url)
			for i := 1; i <= 2; i++ {
				require.Equal(t, true, slow.call(i, "spin", map[string]int{"Ms": 20})["result"])
			}
			require.True(t, l.find("ran longer than InlineBudget"), "two slow calls demote the route")

			done := make(chan struct{})
			go func() {
				defer close(done)
				slow.call(3, "spin", map[string]int{"Ms": 3000})
			}()
			time.Sleep(100 * time.Millisecond) // the third call runs
			for i := 0; i < 4; i++ {           // over every poller
				require.Equal(t, "ok", dialWS(t, url).call(1, "fast", nil)["result"])
			}
			select {
			case <-done:
				t.Fatal("the slow call finished before the other clients were served")
			default:
			}
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the slow call never answered")
			}
		})
	}
}

// Slow OnConnect and OnClose hooks delay only their own connection: other
// clients (on every poller) connect and call while they run.
func TestSlowConnectionHooksDelayOnlyTheirOwn(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			var connectDone, closeDone atomic.Bool
			slow := func(c *wsrpc.Conn) bool { return c.Request() != nil && c.Request().Header.Get("X-Slow") != "" }
			opts := server.Options{}
			opts.Hooks = &wsrpc.Hooks{
				OnConnect: func(_ context.Context, c *wsrpc.Conn) error {
					if slow(c) {
						time.Sleep(2 * time.Second)
						connectDone.Store(true)
					}
					return nil
				},
				OnClose: func(c *wsrpc.Conn, err error) {
					if slow(c) {
						time.Sleep(2 * time.Second)
						closeDone.Store(true)
					}
				},
			}
			_, url := serveOn(t, engine, usercodeRoutes(), opts)
			a := dialWS(t, url, "X-Slow", "1")
			for i := 0; i < 4; i++ { // over every poller
				require.Equal(t, "ok", dialWS(t, url).call(1, "fast", nil)["result"])
			}
			require.False(t, connectDone.Load(), "other clients waited for a slow OnConnect")
			require.Eventually(t, connectDone.Load, 10*time.Second, 10*time.Millisecond)
			_ = a.nc.Close()
			time.Sleep(100 * time.Millisecond) // OnClose runs
			for i := 0; i < 4; i++ {
				require.Equal(t, "ok", dialWS(t, url).call(1, "fast", nil)["result"])
			}
			require.False(t, closeDone.Load(), "other clients waited for a slow OnClose")
			require.Eventually(t, closeDone.Load, 10*time.Second, 10*time.Millisecond)
		})
	}
}
