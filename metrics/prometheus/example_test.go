package prometheus_test

import (
	"context"
	"fmt"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	wsprom "github.com/wsrpc/wsrpc-go/metrics/prometheus"
	"github.com/wsrpc/wsrpc-go/server"
)

// A server instrumented with Instrument; promhttp.HandlerFor(preg, ...)
// would serve these series at /metrics.
func ExampleMetrics_Instrument() {
	preg := prometheus.NewRegistry()
	m := wsprom.NewServerMetrics(&wsprom.Options{Registerer: preg})
	opts := &server.Options{}
	m.Instrument(&opts.Options)
	reg := wsrpc.NewRegistry()
	reg.MustAdd("double", func(n int) int { return 2 * n })
	srv := server.New(reg, opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	hs := &http.Server{Handler: srv}
	go hs.Serve(ln)
	defer hs.Close()

	ctx := context.Background()
	c, err := client.Dial(ctx, "ws://"+ln.Addr().String()+"/", nil, &client.Options{Options: wsrpc.Options{KeepaliveInterval: -1}})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	for i := range 3 {
		_, _ = wsrpc.Call[int](ctx, c, "double", []int{i})
	}
	_ = c.Call(ctx, "no-such-method", nil, nil)

	n, _ := testutil.GatherAndCount(preg, "wsrpc_server_calls_total")
	fmt.Println("call series:", n)
	mfs, _ := preg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "wsrpc_server_calls_total" {
			for _, mt := range mf.GetMetric() {
				fmt.Println(mt.GetLabel()[0].GetValue(), mt.GetLabel()[1].GetValue(), mt.GetCounter().GetValue())
			}
		}
	}
	// Output:
	// call series: 2
	// double ok 3
	// unknown NotImplementedError 1
}
