// tracing/otel: a client's outgoing call recorded as a span.
package main

import (
	"context"
	"fmt"
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
	url := serve(server.New(reg, nil))

	spans := tracetest.NewSpanRecorder()
	opts := &client.Options{}
	otel.New(&otel.Options{TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))}).Instrument(&opts.Options)
	c := dial(ctx, url, nil, opts)
	defer c.Close()
	call[string](ctx, c, "hello", nil)
	for _, s := range spans.Ended() {
		fmt.Println("otel: span", s.Name())
	}
}
