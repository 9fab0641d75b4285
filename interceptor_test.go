package wsrpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/examples/introduction/intro"
	"github.com/wsrpc/wsrpc-go/internal/testkit"
	"github.com/wsrpc/wsrpc-go/server"
)

// seen records what interceptors saw, safe for concurrent use.
type seen struct {
	mu  sync.Mutex
	log []string
}

func (s *seen) add(v string) { s.mu.Lock(); s.log = append(s.log, v); s.mu.Unlock() }
func (s *seen) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...)
}

type ctxKey struct{}

// recording returns an interceptor that records "name kind method
// registered" before next and "name done <err>" after it.
func recording(s *seen, name string) wsrpc.Interceptor {
	return func(ctx context.Context, inv *wsrpc.Invocation, next wsrpc.Next) error {
		reg := ""
		if inv.Registered {
			reg = " registered"
		}
		s.add(name + " " + inv.Kind.String() + " " + inv.Method + reg)
		err := next(ctx, inv)
		s.add(name + " done " + errString(err))
		return err
	}
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func TestInterceptorsIncoming(t *testing.T) {
	forEachEngine(t, testInterceptorsIncoming)
}

func testInterceptorsIncoming(t *testing.T) {
	var s seen
	auth := func(ctx context.Context, inv *wsrpc.Invocation, next wsrpc.Next) error {
		if strings.HasPrefix(inv.Method, "admin.") {
			return wsrpc.NewError("PermissionError", "admin only")
		}
		return next(context.WithValue(ctx, ctxKey{}, "from the interceptor"), inv)
	}
	mask := func(ctx context.Context, inv *wsrpc.Invocation, next wsrpc.Next) error {
		err := next(ctx, inv)
		var e *wsrpc.Error
		if err != nil && !errors.As(err, &e) {
			return wsrpc.NewError("InternalError", "masked")
		}
		return err
	}
	answer := func(ctx context.Context, inv *wsrpc.Invocation, next wsrpc.Next) error {
		if inv.Method == "cached" {
			inv.Result = map[string]int{"cached": 1}
			return nil
		}
		return next(ctx, inv)
	}
	boom := func(ctx context.Context, inv *wsrpc.Invocation, next wsrpc.Next) error {
		if inv.Method == "boom" {
			panic("interceptor boom")
		}
		return next(ctx, inv)
	}
	reg := testRegistry(t)
	reg.MustAdd("value", func(ctx context.Context) (string, error) {
		v, _ := ctx.Value(ctxKey{}).(string)
		if wsrpc.ConnFromContext(ctx) == nil {
			return "", errors.New("no conn in the replaced context")
		}
		return v, nil
	})
	reg.MustAdd("secret", func() error { return errors.New("db password wrong at 10.0.0.3") })
	reg.MustAdd("boom", func() int { return 1 })
	reg.MustAdd("routed", wsrpc.Intercept(func(ctx context.Context) string {
		return ctx.Value(ctxKey{}).(string)
	}, recording(&s, "route"), func(ctx context.Context, inv *wsrpc.Invocation, next wsrpc.Next) error {
		return next(context.WithValue(ctx, ctxKey{}, "from the route"), inv)
	}))
	reg.MustAdd("icounter", wsrpc.Intercept(&testkit.Counter{}, recording(&s, "route")))
	reg.MustAdd("inline", wsrpc.Inline(wsrpc.Intercept(func(p json.RawMessage) json.RawMessage { return p }, recording(&s, "route"))))
	var logs logRecords
	srv := newTestServer(reg, &server.Options{Options: wsrpc.Options{
		KeepaliveInterval: -1,
		Logger:            slog.New(&logs),
		Interceptors:      []wsrpc.Interceptor{recording(&s, "side"), boom, auth, mask, answer},
	}})
	url := startServer(t, srv)
	ctx := testCtx(t)
	c, err := client.Dial(ctx, url, nil, &client.Options{Options: wsrpc.Options{KeepaliveInterval: -1}})
	require.NoError(t, err)
	defer c.Close()

	tests := []struct {
		name, method string
		params       any
		want         string // the result as JSON, or "" for an error
		wantErr      *wsrpc.Error
		wantSeen     []string
	}{
		{name: "context replaced reaches the handler", method: "value", want: `"from the interceptor"`,
			wantSeen: []string{"side call value registered", "side done ok"}},
		{name: "rejected", method: "admin.status", wantErr: &wsrpc.Error{Type: "PermissionError", Message: "admin only"},
			wantSeen: []string{"side call admin.status registered", "side done PermissionError: admin only"}},
		{name: "error masked", method: "secret", wantErr: &wsrpc.Error{Type: "InternalError", Message: "masked"},
			wantSeen: []string{"side call secret registered", "side done InternalError: masked"}},
		{name: "an *Error passes", method: "fail", params: map[string]string{"message": "m"}, wantErr: &wsrpc.Error{Type: "KeyError", Message: "m"},
			wantSeen: []string{"side call fail registered", "side done KeyError: m"}},
		{name: "unknown method", method: "cached", want: `{"cached":1}`,
			wantSeen: []string{"side call cached", "side done ok"}},
		{name: "unknown method refused", method: "nope", wantErr: &wsrpc.Error{Type: wsrpc.TypeNotImplemented},
			wantSeen: []string{"side call nope", `side done NotImplementedError: Callback function "nope" not implemented`}},
		{name: "route interceptors inside the side's", method: "routed", want: `"from the route"`,
			wantSeen: []string{"side call routed registered", "route call routed registered", "route done ok", "side done ok"}},
		{name: "inline route", method: "inline", params: []int{1}, want: `[1]`,
			wantSeen: []string{"side call inline registered", "route call inline registered", "route done ok", "side done ok"}},
		{name: "struct route", method: "icounter.add", params: map[string]int{"n": 2}, want: `{"value":2,"inits":1}`,
			wantSeen: []string{"side call icounter.add registered", "route call icounter.add registered", "route done ok", "side done ok"}},
		{name: "struct route, member not exposed", method: "icounter.nope", wantErr: &wsrpc.Error{Type: wsrpc.TypeNotImplemented},
			wantSeen: []string{"side call icounter.nope", "side done NotImplementedError: Method not implemented: icounter.nope is not exposed (icounter exposes icounter.add, icounter.get)"}},
		{name: "panicking interceptor", method: "boom", wantErr: &wsrpc.Error{Type: wsrpc.TypeRuntimeError},
			wantSeen: []string{"side call boom registered"}}, // the panic unwinds the outer interceptors too
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.mu.Lock()
			s.log = nil
			s.mu.Unlock()
			var res json.RawMessage
			err := c.Call(ctx, tc.method, tc.params, &res)
			if tc.wantErr != nil {
				var e *wsrpc.Error
				require.ErrorAs(t, err, &e)
				require.ErrorIs(t, e, tc.wantErr)
			} else {
				require.NoError(t, err)
				require.JSONEq(t, tc.want, string(res))
			}
			require.Equal(t, tc.wantSeen, s.all())
		})
	}
	require.True(t, logs.has(slog.LevelError, "interceptor boom"), "the interceptor's panic is logged at Error")
	require.NoError(t, c.Call(ctx, "value", nil, nil), "the connection survives the panic")
}

func TestInterceptorsOutgoingAndEvents(t *testing.T) {
	forEachEngine(t, testInterceptorsOutgoingAndEvents)
}

func testInterceptorsOutgoingAndEvents(t *testing.T) {
	var srvSeen, cliSeen seen
	events := make(chan string, 4)
	record := func(s *seen) wsrpc.Interceptor {
		return func(ctx context.Context, inv *wsrpc.Invocation, next wsrpc.Next) error {
			p, _ := json.Marshal(inv.Params)
			s.add(inv.Kind.String() + " " + inv.Method + " " + string(p))
			err := next(ctx, inv)
			if inv.Kind == wsrpc.KindOutgoingCall {
				s.add("id set " + boolString(len(inv.ID) > 0) + " " + errString(err))
			}
			return err
		}
	}
	reg := testRegistry(t)
	reg.MustAdd("callback", func(ctx context.Context) (int, error) {
		conn := wsrpc.ConnFromContext(ctx)
		if err := conn.Emit(ctx, map[string]string{"type": "hello"}); err != nil {
			return 0, err
		}
		return wsrpc.Call[int](ctx, conn, "double", []int{21})
	})
	srv := newTestServer(reg, &server.Options{Options: wsrpc.Options{
		KeepaliveInterval: -1,
		Interceptors:      []wsrpc.Interceptor{record(&srvSeen)},
		OnEvent:           func(c *wsrpc.Conn, ev json.RawMessage) { events <- "server " + string(ev) },
	}})
	url := startServer(t, srv)
	ctx := testCtx(t)
	creg := wsrpc.NewRegistry()
	creg.MustAdd("double", func(n int) int { return 2 * n })
	veto := func(ctx context.Context, inv *wsrpc.Invocation, next wsrpc.Next) error {
		if inv.Kind == wsrpc.KindOutgoingCall && inv.Method == "forbidden" {
			return wsrpc.NewError("PermissionError", "not from this client")
		}
		if inv.Kind == wsrpc.KindOutgoingCall && inv.Method == "boom" {
			panic("outgoing boom")
		}
		return next(ctx, inv)
	}
	c, err := client.Dial(ctx, url, creg, &client.Options{Options: wsrpc.Options{
		KeepaliveInterval: -1,
		Interceptors:      []wsrpc.Interceptor{record(&cliSeen), veto},
		OnEvent:           func(c *wsrpc.Conn, ev json.RawMessage) { events <- "client " + string(ev) },
	}})
	require.NoError(t, err)
	defer c.Close()

	n, err := wsrpc.Call[int](ctx, c, "callback", nil)
	require.NoError(t, err)
	require.Equal(t, 42, n)
	require.Equal(t, `client {"type":"hello"}`, recv(t, events, "the server's event"))
	require.NoError(t, c.Emit(ctx, map[string]string{"type": "bye"}))
	require.Equal(t, `server {"type":"bye"}`, recv(t, events, "the client's event"))
	err = c.Call(ctx, "forbidden", nil, nil)
	require.ErrorIs(t, err, &wsrpc.Error{Type: "PermissionError"})
	err = c.Call(ctx, "boom", nil, nil)
	require.ErrorIs(t, err, &wsrpc.Error{Type: wsrpc.TypeRuntimeError}, "a panicking interceptor of an outgoing call fails it")
	require.Contains(t, err.Error(), `an interceptor of outgoing_call "boom"`)
	require.NoError(t, c.Call(ctx, "subtract", map[string]int{"a": 1, "b": 1}, nil), "the connection survives it")

	require.Equal(t, []string{
		"call callback null",
		`outgoing_event  {"type":"hello"}`,
		"outgoing_call double [21]",
		"id set true ok",
		`event  {"type":"bye"}`,
		`call subtract {"a":1,"b":1}`, // forbidden and boom never left the client
	}, srvSeen.all())
	require.Equal(t, []string{
		"outgoing_call callback null",
		`event  {"type":"hello"}`, // read before the call that follows it
		"call double [21]",
		"id set true ok",
		`outgoing_event  {"type":"bye"}`,
		"outgoing_call forbidden null",
		"id set false PermissionError: not from this client",
		"outgoing_call boom null", // the panic unwinds the recorder too
		"outgoing_call subtract {\"a\":1,\"b\":1}",
		"id set true ok",
	}, cliSeen.all())
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// logRecords is a slog.Handler that keeps every record.
type logRecords struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecords) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.recs = append(h.recs, r.Clone())
	h.mu.Unlock()
	return nil
}
func (h *logRecords) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecords) WithGroup(string) slog.Handler      { return h }

// has reports whether a record of level holds text in its message or an
// attribute's value.
func (h *logRecords) has(level slog.Level, text string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.recs {
		if r.Level != level {
			continue
		}
		found := strings.Contains(r.Message, text)
		r.Attrs(func(a slog.Attr) bool {
			found = found || strings.Contains(a.Value.String(), text)
			return !found
		})
		if found {
			return true
		}
	}
	return false
}

// Params an interceptor replaces are checked before a decoder sees them:
// invalid JSON is a TypeError reply, valid JSON reaches the handler.
func TestInterceptorReplacedParams(t *testing.T) {
	forEachEngine(t, func(t *testing.T) {
		reg := testRegistry(t)
		// Params with easyjson code: decoded in one pass (params_direct.go).
		reg.MustAdd("sub", wsrpc.Inline(intro.SubtractRoute))
		replace := func(ctx context.Context, inv *wsrpc.Invocation, next wsrpc.Next) error {
			var with struct{ With string }
			if p, ok := inv.Params.(json.RawMessage); ok && json.Unmarshal(p, &with) == nil && with.With != "" {
				inv.Params = json.RawMessage(with.With)
			}
			return next(ctx, inv)
		}
		srv := newTestServer(reg, &server.Options{Options: wsrpc.Options{KeepaliveInterval: -1, Interceptors: []wsrpc.Interceptor{replace}}})
		url := startServer(t, srv)
		ctx := testCtx(t)
		c, err := client.Dial(ctx, url, nil, &client.Options{Options: wsrpc.Options{KeepaliveInterval: -1}})
		require.NoError(t, err)
		defer c.Close()
		for _, bad := range []string{`{"a":tru`, `{"a":1,"b":n`, `{"a":"x`, `{"a":1,`} {
			_, err := wsrpc.Call[int64](ctx, c.Conn(), "sub", map[string]string{"With": bad})
			var e *wsrpc.Error
			require.ErrorAs(t, err, &e, bad)
			require.Equal(t, wsrpc.TypeTypeError, e.Type, bad)
		}
		got, err := wsrpc.Call[int64](ctx, c.Conn(), "sub", map[string]string{"With": `{"a":10,"b":3}`})
		require.NoError(t, err)
		require.Equal(t, int64(7), got)
	})
}

// TestInvocationKeepalive: interceptors can tell the peer's keepalive ping,
// answered by the built-in route, from a call; a route registered as
// "ping" in its place is a call like any other.
func TestInvocationKeepalive(t *testing.T) {
	forEachEngine(t, func(t *testing.T) {
		for _, tc := range []struct {
			name     string
			replace  bool
			method   string
			wantSeen string
		}{
			{"built-in ping", false, "ping", "ping keepalive"},
			{"another call", false, "subtract", "subtract call"},
			{"a route named ping", true, "ping", "ping call"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var s seen
				note := func(ctx context.Context, inv *wsrpc.Invocation, next wsrpc.Next) error {
					what := " call"
					if inv.Keepalive {
						what = " keepalive"
					}
					s.add(inv.Method + what)
					return next(ctx, inv)
				}
				reg := testRegistry(t)
				if tc.replace {
					reg.MustAdd("ping", func(p json.RawMessage) json.RawMessage { return p })
				}
				srv := newTestServer(reg, &server.Options{Options: wsrpc.Options{KeepaliveInterval: -1, Interceptors: []wsrpc.Interceptor{note}}})
				ctx := testCtx(t)
				c, err := client.Dial(ctx, startServer(t, srv), nil, &client.Options{Options: wsrpc.Options{KeepaliveInterval: -1}})
				require.NoError(t, err)
				defer c.Close()
				require.NoError(t, c.Call(ctx, tc.method, map[string]int{"a": 2, "b": 1}, nil))
				require.Equal(t, []string{tc.wantSeen}, s.all())
			})
		}
	})
}
