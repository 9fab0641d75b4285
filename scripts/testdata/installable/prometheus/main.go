// metrics/prometheus: a server's calls counted in a registry of its own.
package main

import (
	"context"
	"fmt"
	"log"
	"time"

	promclient "github.com/prometheus/client_golang/prometheus"
	"github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/metrics/prometheus"
	"github.com/wsrpc/wsrpc-go/server"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	reg := wsrpc.NewRegistry()
	reg.MustAdd("hello", func() string { return "hi" })
	promReg := promclient.NewRegistry()
	opts := &server.Options{}
	prometheus.NewServerMetrics(&prometheus.Options{Registerer: promReg}).Instrument(&opts.Options)
	c := dial(ctx, serve(server.New(reg, opts)), nil, nil)
	defer c.Close()
	call[string](ctx, c, "hello", nil)

	families, err := promReg.Gather()
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "wsrpc_server_calls_total" {
			fmt.Println("prometheus: wsrpc_server_calls_total =", f.GetMetric()[0].GetCounter().GetValue())
		}
	}
}
