package prometheus_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/internal/testserver"
	wsprom "github.com/wsrpc/wsrpc-go/metrics/prometheus"
	"github.com/wsrpc/wsrpc-go/server"
)

func routes() *wsrpc.Registry {
	reg := wsrpc.NewRegistry()
	reg.MustAdd("sub", func(p struct{ A, B int }) int { return p.A - p.B })
	reg.MustAdd("fail", func() error { return wsrpc.NewError("KeyError", "no") })
	return reg
}

// serve starts an instrumented server with keepalive off, KeyError an
// allowed error type, and returns its URL and metrics.
func serve(t *testing.T, reg *wsrpc.Registry) (string, *wsprom.Metrics, *prometheus.Registry) {
	preg := prometheus.NewRegistry()
	m := wsprom.NewServerMetrics(&wsprom.Options{Registerer: preg, AllowedErrorTypes: []string{"KeyError"}})
	opts := &server.Options{Options: wsrpc.Options{KeepaliveInterval: -1}}
	m.Instrument(&opts.Options)
	srv := testserver.New(reg, opts)
	return testserver.Listen(t, srv), m, preg
}

// raw is a bare WebSocket client sending exact messages.
type raw struct {
	t  *testing.T
	nc net.Conn
}

func dialRaw(t *testing.T, url string) *raw {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, br, _, err := ws.Dial(ctx, url)
	require.NoError(t, err)
	require.Nil(t, br)
	t.Cleanup(func() { _ = nc.Close() })
	return &raw{t: t, nc: nc}
}

// call sends msg and returns the reply.
func (r *raw) call(msg string) string {
	require.NoError(r.t, wsutil.WriteClientText(r.nc, []byte(msg)))
	_ = r.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	reply, err := wsutil.ReadServerText(r.nc)
	require.NoError(r.t, err)
	return string(reply)
}

// gather returns the value of the series name{labels} ("" for none), or
// -1 when there is no such series.
func gather(t *testing.T, preg *prometheus.Registry, name string, labels ...string) float64 {
	mfs, err := preg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, mt := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range mt.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue next
				}
			}
			switch {
			case mt.Counter != nil:
				return mt.Counter.GetValue()
			case mt.Gauge != nil:
				return mt.Gauge.GetValue()
			case mt.Histogram != nil:
				return float64(mt.Histogram.GetSampleCount())
			}
		}
	}
	return -1
}

func eventually(t *testing.T, want float64, get func() float64, what string) {
	t.Helper()
	require.Eventually(t, func() bool { return get() == want }, testserver.WaitTimeout, time.Millisecond, "%s: want %v, have %v", what, want, get())
}

func TestServerMetrics(t *testing.T) {
	testserver.ForEachEngine(t, func(t *testing.T) {
		url, _, preg := serve(t, routes())
		r := dialRaw(t, url)
		eventually(t, 1, func() float64 { return gather(t, preg, "wsrpc_server_connections") }, "open connections")
		msgs := []string{
			`{"id":1,"method":"sub","params":{"A":5,"B":3}}`,
			`{"id":2,"method":"sub","params":{"A":1,"B":1}}`,
			`{"id":3,"method":"sub","params":{"A":9,"B":1}}`,
			`{"id":4,"method":"fail"}`,
			`{"id":5,"method":"nope"}`,
			`{"id":6,"method":"nope.either"}`,
		}
		var in, out int
		for _, m := range msgs {
			reply := r.call(m)
			in += len(m)
			out += len(reply)
		}
		g := func(name string, labels ...string) float64 { return gather(t, preg, name, labels...) }
		require.Equal(t, 3.0, g("wsrpc_server_calls_total", "method", "sub", "outcome", "ok"))
		require.Equal(t, 1.0, g("wsrpc_server_calls_total", "method", "fail", "outcome", "KeyError"))
		require.Equal(t, 2.0, g("wsrpc_server_calls_total", "method", "unknown", "outcome", "NotImplementedError"))
		require.Equal(t, -1.0, g("wsrpc_server_calls_total", "method", "nope"), "no series for an unregistered method")
		require.Equal(t, 3.0, g("wsrpc_server_call_duration_seconds", "method", "sub"))
		require.Equal(t, 2.0, g("wsrpc_server_call_duration_seconds", "method", "unknown"))
		require.Equal(t, 1.0, g("wsrpc_server_connections_total"))
		require.Equal(t, float64(len(msgs)), g("wsrpc_server_messages_received_total"))
		require.Equal(t, float64(in), g("wsrpc_server_received_bytes_total"))
		eventually(t, float64(len(msgs)), func() float64 { return g("wsrpc_server_messages_sent_total") }, "messages sent")
		eventually(t, float64(out), func() float64 { return g("wsrpc_server_sent_bytes_total") }, "bytes sent")

		require.NoError(t, ws.WriteFrame(r.nc, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusGoingAway, "bye")))))
		eventually(t, 0, func() float64 { return g("wsrpc_server_connections") }, "open connections after the close")
		eventually(t, 1, func() float64 { return g("wsrpc_server_disconnects_total", "reason", "going_away") }, "going_away disconnects")

		r2 := dialRaw(t, url)
		require.NoError(t, ws.WriteFrame(r2.nc, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "")))))
		eventually(t, 1, func() float64 { return g("wsrpc_server_disconnects_total", "reason", "normal") }, "normal disconnects")

		r3 := dialRaw(t, url)
		_, err := r3.nc.Write([]byte{0x81 | 0x40, 0x80, 1, 2, 3, 4}) // RSV1 without a negotiated extension
		require.NoError(t, err)
		eventually(t, 1, func() float64 { return g("wsrpc_server_disconnects_total", "reason", "protocol_error") }, "protocol_error disconnects")
		require.Equal(t, 3.0, g("wsrpc_server_connections_total"))
	})
}

// TestUnknownMethodsAddNoSeries: a client sending random method names
// cannot grow the number of series.
func TestUnknownMethodsAddNoSeries(t *testing.T) {
	testserver.ForEachEngine(t, func(t *testing.T) {
		url, _, preg := serve(t, routes())
		r := dialRaw(t, url)
		r.call(`{"id":1,"method":"sub","params":{"A":1,"B":1}}`)
		r.call(`{"id":2,"method":"first-unknown"}`)
		series := func() int {
			mfs, err := preg.Gather()
			require.NoError(t, err)
			n := 0
			for _, mf := range mfs {
				n += len(mf.GetMetric())
			}
			return n
		}
		before := series()
		callSeries, err := testutil.GatherAndCount(preg, "wsrpc_server_calls_total", "wsrpc_server_call_duration_seconds")
		require.NoError(t, err)
		for i := range 1000 {
			reply := r.call(fmt.Sprintf(`{"id":%d,"method":"random-%d"}`, i+3, i))
			require.True(t, strings.Contains(reply, "NotImplementedError"), reply)
		}
		require.Equal(t, before, series(), "series after 1,000 calls to distinct unknown methods")
		after, err := testutil.GatherAndCount(preg, "wsrpc_server_calls_total", "wsrpc_server_call_duration_seconds")
		require.NoError(t, err)
		require.Equal(t, callSeries, after)
		require.Equal(t, 1001.0, gather(t, preg, "wsrpc_server_calls_total", "method", "unknown", "outcome", "NotImplementedError"))
	})
}

func TestClientMetrics(t *testing.T) {
	testserver.ForEachEngine(t, func(t *testing.T) {
		srv := testserver.New(routes(), &server.Options{Options: wsrpc.Options{KeepaliveInterval: -1}})
		url := testserver.Listen(t, srv)
		preg := prometheus.NewRegistry()
		m := wsprom.NewClientMetrics(&wsprom.Options{Registerer: preg})
		opts := &client.Options{Options: wsrpc.Options{KeepaliveInterval: -1}}
		m.Instrument(&opts.Options)
		ctx, cancel := context.WithTimeout(context.Background(), testserver.WaitTimeout)
		defer cancel()
		c, err := client.Dial(ctx, url, nil, opts)
		require.NoError(t, err)
		for range 2 {
			n, err := wsrpc.Call[int](ctx, c, "sub", map[string]int{"A": 3, "B": 1})
			require.NoError(t, err)
			require.Equal(t, 2, n)
		}
		require.Error(t, c.Call(ctx, "fail", nil, nil))
		require.Error(t, c.Call(ctx, "nope", nil, nil))
		g := func(name string, labels ...string) float64 { return gather(t, preg, name, labels...) }
		require.Equal(t, 2.0, g("wsrpc_client_calls_total", "method", "sub", "outcome", "ok"))
		require.Equal(t, 1.0, g("wsrpc_client_calls_total", "method", "fail", "outcome", wsprom.OutcomeError), "KeyError is not an allowed type here")
		require.Equal(t, 1.0, g("wsrpc_client_calls_total", "method", "nope", "outcome", "NotImplementedError"))
		require.Equal(t, 2.0, g("wsrpc_client_call_duration_seconds", "method", "sub"))
		require.Equal(t, 1.0, g("wsrpc_client_connections"))
		require.Equal(t, 4.0, g("wsrpc_client_messages_received_total"))
		eventually(t, 4, func() float64 { return g("wsrpc_client_messages_sent_total") }, "messages sent")
		require.NoError(t, c.Close())
		eventually(t, 0, func() float64 { return g("wsrpc_client_connections") }, "open connections after Close")
		require.Equal(t, 1.0, g("wsrpc_client_disconnects_total", "reason", "normal"))
		require.Equal(t, -1.0, g("wsrpc_server_calls_total"), "a client has no server series")
	})
}

// TestInstrumentKeepsUserHooks: the user's hooks run after the metrics' own.
func TestInstrumentKeepsUserHooks(t *testing.T) {
	testserver.ForEachEngine(t, func(t *testing.T) {
		events := make(chan string, 16)
		preg := prometheus.NewRegistry()
		m := wsprom.NewServerMetrics(&wsprom.Options{Registerer: preg})
		opts := &server.Options{Options: wsrpc.Options{KeepaliveInterval: -1, Hooks: &wsrpc.Hooks{
			OnConnect:   func(ctx context.Context, c *wsrpc.Conn) error { events <- "connect"; return nil },
			OnCallStart: func(ctx context.Context, call *wsrpc.CallInfo) { events <- "call " + call.Method },
			OnClose:     func(c *wsrpc.Conn, err error) { events <- "close" },
		}}}
		m.Instrument(&opts.Options)
		url := testserver.Listen(t, testserver.New(routes(), opts))
		r := dialRaw(t, url)
		require.Equal(t, "connect", testserver.Recv(t, events, "the user's OnConnect"))
		require.Equal(t, 1.0, gather(t, preg, "wsrpc_server_connections"), "the metrics' OnConnect ran first")
		r.call(`{"id":1,"method":"sub","params":{"A":1,"B":1}}`)
		require.Equal(t, "call sub", testserver.Recv(t, events, "the user's OnCallStart"))
		require.NoError(t, ws.WriteFrame(r.nc, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "")))))
		require.Equal(t, "close", testserver.Recv(t, events, "the user's OnClose"))
		eventually(t, 0, func() float64 { return gather(t, preg, "wsrpc_server_connections") }, "open connections after the close")
	})
}
