package prometheus_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/internal/testserver"
	wsprom "github.com/wsrpc/wsrpc-go/metrics/prometheus"
	"github.com/wsrpc/wsrpc-go/server"
)

// relayPair is an instrumented server whose "relay" route calls the
// client's "boom" and returns its error, and an instrumented client whose
// "boom" answers with the error type typ(n) for its n-th call: the peer of
// each side chooses the error types.
type relayPair struct {
	c              *client.Client
	srvReg, cliReg *prometheus.Registry
}

func newRelayPair(t *testing.T, typ func(n int64) string) *relayPair {
	p := &relayPair{srvReg: prometheus.NewRegistry(), cliReg: prometheus.NewRegistry()}
	reg := wsrpc.NewRegistry()
	reg.MustAdd("relay", func(ctx context.Context) error {
		return wsrpc.ConnFromContext(ctx).Call(ctx, "boom", nil, nil)
	})
	opts := &server.Options{Options: wsrpc.Options{KeepaliveInterval: -1}}
	wsprom.NewServerMetrics(&wsprom.Options{Registerer: p.srvReg, AllowedErrorTypes: []string{"KeyError"}}).Instrument(&opts.Options)
	url := testserver.Listen(t, testserver.New(reg, opts))

	var n atomic.Int64
	creg := wsrpc.NewRegistry()
	creg.MustAdd("boom", func() error { return wsrpc.NewError(typ(n.Add(1)), "chosen by the peer") })
	copts := &client.Options{Options: wsrpc.Options{KeepaliveInterval: -1}}
	wsprom.NewClientMetrics(&wsprom.Options{Registerer: p.cliReg}).Instrument(&copts.Options)
	ctx, cancel := context.WithTimeout(context.Background(), testserver.WaitTimeout)
	defer cancel()
	c, err := client.Dial(ctx, url, creg, copts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	p.c = c
	return p
}

// relay makes calls relay calls from 8 goroutines, each failing.
func (p *relayPair) relay(t *testing.T, calls int) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*testserver.WaitTimeout)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := g; i < calls; i += 8 {
				if err := p.c.Call(ctx, "relay", nil, nil); err == nil || wsrpc.ReplyType(err) == "" {
					errs <- fmt.Errorf("relay %d: want a peer's error reply, got %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// seriesOf counts the series of preg and the bytes of its /metrics page.
func seriesOf(t *testing.T, preg *prometheus.Registry) (series, size int) {
	mfs, err := preg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		series += len(mf.GetMetric())
	}
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(preg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	return series, rec.Body.Len()
}

// labelValues returns every label value of preg's series.
func labelValues(t *testing.T, preg *prometheus.Registry) []string {
	mfs, err := preg.Gather()
	require.NoError(t, err)
	var out []string
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				out = append(out, l.GetValue())
			}
		}
	}
	return out
}

// TestPeerErrorTypesAddNoSeries: a peer answering 2,000 calls with 2,000
// distinct error types adds no series on either side, and the /metrics
// page does not grow with them: the outcome is "error".
func TestPeerErrorTypesAddNoSeries(t *testing.T) {
	testserver.ForEachEngine(t, testPeerErrorTypesAddNoSeries)
}

func testPeerErrorTypesAddNoSeries(t *testing.T) {
	p := newRelayPair(t, func(n int64) string { return fmt.Sprintf("PeerError%d", n) })
	p.relay(t, 1) // the series of a failed relay exist from here on
	srvSeries, srvSize := seriesOf(t, p.srvReg)
	cliSeries, cliSize := seriesOf(t, p.cliReg)

	p.relay(t, 2000)
	for _, side := range []struct {
		name               string
		preg               *prometheus.Registry
		series, size       int
		metric, errorLabel string
	}{
		{"server", p.srvReg, srvSeries, srvSize, "wsrpc_server_calls_total", wsprom.OutcomeError},
		{"client", p.cliReg, cliSeries, cliSize, "wsrpc_client_calls_total", wsprom.OutcomeError},
	} {
		series, size := seriesOf(t, side.preg)
		require.Equal(t, side.series, series, "%s: series after 2,000 distinct peer error types", side.name)
		require.Less(t, size, side.size+256, "%s: /metrics bytes after 2,000 distinct peer error types (%d before)", side.name, side.size)
		require.Equal(t, 2001.0, gather(t, side.preg, side.metric, "method", "relay", "outcome", side.errorLabel), side.name)
		for _, v := range labelValues(t, side.preg) {
			require.NotContains(t, v, "PeerError", "%s: a label value chosen by the peer", side.name)
		}
	}
}

// TestHugeErrorTypesMakeNoHugeLabel: three 1 MiB error types leave every
// label value within the longest of the fixed set.
func TestHugeErrorTypesMakeNoHugeLabel(t *testing.T) {
	testserver.ForEachEngine(t, testHugeErrorTypesMakeNoHugeLabel)
}

func testHugeErrorTypesMakeNoHugeLabel(t *testing.T) {
	p := newRelayPair(t, func(n int64) string { return strings.Repeat("E", 1<<20) + fmt.Sprint(n) })
	p.relay(t, 3)
	bound := len(wsprom.OutcomeClosed)
	for _, typ := range append(wsprom.EngineErrorTypes(), "KeyError", wsprom.OutcomeOK, wsprom.OutcomeError, "relay") {
		bound = max(bound, len(typ))
	}
	for name, preg := range map[string]*prometheus.Registry{"server": p.srvReg, "client": p.cliReg} {
		values := labelValues(t, preg)
		require.NotEmpty(t, values)
		for _, v := range values {
			require.LessOrEqual(t, len(v), bound, "%s: a label value of %d bytes", name, len(v))
		}
		_, size := seriesOf(t, preg)
		require.Less(t, size, 64<<10, "%s: /metrics bytes", name)
	}
}

// TestKeepalivePingsAreNotCalls: the pings a server answers are not calls
// in its metrics, unless CountKeepalivePings asks for them; their messages
// still count.
func TestKeepalivePingsAreNotCalls(t *testing.T) {
	testserver.ForEachEngine(t, testKeepalivePingsAreNotCalls)
}

func testKeepalivePingsAreNotCalls(t *testing.T) {
	for _, count := range []bool{false, true} {
		t.Run(fmt.Sprintf("CountKeepalivePings=%v", count), func(t *testing.T) {
			preg := prometheus.NewRegistry()
			opts := &server.Options{Options: wsrpc.Options{KeepaliveInterval: -1}}
			wsprom.NewServerMetrics(&wsprom.Options{Registerer: preg, CountKeepalivePings: count}).Instrument(&opts.Options)
			url := testserver.Listen(t, testserver.New(routes(), opts))
			ctx, cancel := context.WithTimeout(context.Background(), testserver.WaitTimeout)
			defer cancel()
			c, err := client.Dial(ctx, url, nil, &client.Options{Options: wsrpc.Options{KeepaliveInterval: 5 * time.Millisecond}})
			require.NoError(t, err)
			defer c.Close()
			require.Eventually(t, func() bool { return c.Conn().Stats().Pongs >= 3 }, testserver.WaitTimeout, time.Millisecond, "the server answers the client's pings")
			require.NoError(t, c.Call(ctx, "sub", map[string]int{"A": 2, "B": 1}, nil))
			require.Equal(t, 1.0, gather(t, preg, "wsrpc_server_calls_total", "method", "sub", "outcome", "ok"))
			require.GreaterOrEqual(t, gather(t, preg, "wsrpc_server_messages_received_total"), 4.0, "the pings' messages count")
			pings := gather(t, preg, "wsrpc_server_calls_total", "method", "ping")
			if !count {
				require.Equal(t, -1.0, pings, "no series for keepalive pings")
				require.Equal(t, -1.0, gather(t, preg, "wsrpc_server_call_duration_seconds", "method", "ping"))
				return
			}
			require.GreaterOrEqual(t, pings, 3.0, "keepalive pings counted on request")
		})
	}
}
