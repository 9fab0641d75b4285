// tracing/otel: a client's outgoing call recorded as a span.
package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/server"
	"github.com/wsrpc/wsrpc-go/tracing/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	reg := wsrpc.NewRegistry()
	reg.MustAdd("hello", func() string { return "hi" })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(ln, server.New(reg, nil))

	spans := tracetest.NewSpanRecorder()
	opts := &client.Options{}
	otel.New(&otel.Options{TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))}).Instrument(&opts.Options)
	c, err := client.Dial(ctx, "ws://"+ln.Addr().String()+"/", nil, opts)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if _, err := wsrpc.Call[string](ctx, c, "hello", nil); err != nil {
		log.Fatal(err)
	}
	for _, s := range spans.Ended() {
		fmt.Println("otel: span", s.Name())
	}
}
