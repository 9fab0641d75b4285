package otel_test

import (
	"context"
	"fmt"
	"net"
	"net/http"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/server"
	wsotel "github.com/wsrpc/wsrpc-go/tracing/otel"
)

// A traced server: the client's traceparent header becomes the parent of
// the connection span, and each call a child of it.
func ExampleTracing_Instrument() {
	exp := tracetest.NewInMemoryExporter()
	tr := wsotel.New(&wsotel.Options{TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))})
	opts := &server.Options{}
	tr.Instrument(&opts.Options)
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
	c, err := client.Dial(ctx, "ws://"+ln.Addr().String()+"/", nil, &client.Options{
		Options: wsrpc.Options{KeepaliveInterval: -1},
		Header:  http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}},
	})
	if err != nil {
		panic(err)
	}
	_, _ = wsrpc.Call[int](ctx, c, "double", []int{2})
	c.Close()
	srv.Close() // ends the connection span if the close is still on its way

	names := map[string]string{}
	for _, s := range exp.GetSpans() {
		names[s.SpanContext.SpanID().String()] = s.Name
	}
	names["00f067aa0ba902b7"] = "traceparent"
	for _, s := range exp.GetSpans() {
		fmt.Printf("%s: trace %s, parent %s\n", s.Name, s.SpanContext.TraceID(), names[s.Parent.SpanID().String()])
	}
	// Output:
	// double: trace 4bf92f3577b34da6a3ce929d0e0e4736, parent wsrpc.connection
	// wsrpc.connection: trace 4bf92f3577b34da6a3ce929d0e0e4736, parent traceparent
}
