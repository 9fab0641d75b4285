// metrics/prometheus: a server's calls counted in a registry of its own.
package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"time"

	promclient "github.com/prometheus/client_golang/prometheus"
	"github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(ln, server.New(reg, opts))
	c, err := client.Dial(ctx, "ws://"+ln.Addr().String()+"/", nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if _, err := wsrpc.Call[string](ctx, c, "hello", nil); err != nil {
		log.Fatal(err)
	}
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
