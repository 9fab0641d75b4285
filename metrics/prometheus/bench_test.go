package prometheus_test

import (
	"context"
	"net"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	wsprom "github.com/wsrpc/wsrpc-go/metrics/prometheus"
	"github.com/wsrpc/wsrpc-go/server"
)

// discard is a Transport that drops what the engine writes.
type discard struct{ n int }

func (d *discard) WriteMessages(msgs [][]byte) error { d.n += len(msgs); return nil }
func (d *discard) Close(int, string) error           { return nil }

type subParams struct{ A, B int }

// variants are the options a benchmark compares, measured in the same run:
// no interceptor (the baseline), one that only calls next, and the
// Prometheus metrics.
func variants() []struct {
	name string
	opts func() *wsrpc.Options
} {
	return []struct {
		name string
		opts func() *wsrpc.Options
	}{
		{"off", func() *wsrpc.Options { return &wsrpc.Options{} }},
		{"noop-interceptor", func() *wsrpc.Options {
			return &wsrpc.Options{Interceptors: []wsrpc.Interceptor{func(ctx context.Context, inv *wsrpc.Invocation, next wsrpc.Next) error {
				return next(ctx, inv)
			}}}
		}},
		{"prometheus", func() *wsrpc.Options {
			o := &wsrpc.Options{}
			wsprom.NewServerMetrics(&wsprom.Options{Registerer: prometheus.NewRegistry()}).Instrument(o)
			return o
		}},
	}
}

// BenchmarkDispatchMetrics is the root's BenchmarkDispatch (an inline call
// from its frame to its reply handed to the transport) with each variant.
func BenchmarkDispatchMetrics(b *testing.B) {
	for _, v := range variants() {
		b.Run(v.name, func(b *testing.B) {
			reg := wsrpc.NewRegistry()
			reg.MustAdd("sub", wsrpc.Inline(func(p subParams) int { return p.A - p.B }))
			tr := &discard{}
			c := wsrpc.NewConn(tr, wsrpc.ConnConfig{Role: wsrpc.RoleServer, Registry: reg, Options: v.opts(), BatchedReads: true})
			defer c.Close()
			msg := []byte(`{"id":7,"method":"sub","params":{"A":10,"B":3}}`)
			b.ReportAllocs()
			for b.Loop() {
				c.HandleMessage(msg)
				if err := c.Flush(true); err != nil {
					b.Fatal(err)
				}
			}
			if tr.n == 0 {
				b.Fatal("no reply was written")
			}
		})
	}
}

// BenchmarkCallMetrics is a client's call over a loopback WebSocket, one
// at a time, with each variant on the server.
func BenchmarkCallMetrics(b *testing.B) {
	for _, v := range variants() {
		b.Run(v.name, func(b *testing.B) {
			reg := wsrpc.NewRegistry()
			reg.MustAdd("sub", func(p subParams) int { return p.A - p.B })
			srv := server.New(reg, &server.Options{Options: *v.opts()})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			hs := &http.Server{Handler: srv}
			go hs.Serve(ln)
			defer hs.Close()
			defer srv.Close()
			ctx := context.Background()
			c, err := client.Dial(ctx, "ws://"+ln.Addr().String()+"/", nil, &client.Options{Options: wsrpc.Options{KeepaliveInterval: -1}})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			p := subParams{10, 3}
			var r int
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Call(ctx, "sub", p, &r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
