package otel_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/internal/testserver"
	"github.com/wsrpc/wsrpc-go/server"
	wsotel "github.com/wsrpc/wsrpc-go/tracing/otel"
)

const (
	traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	spanID  = "00f067aa0ba902b7"
)

func attrs(s tracetest.SpanStub) map[attribute.Key]string {
	m := map[attribute.Key]string{}
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value.Emit()
	}
	return m
}

// byName returns the ended spans named name.
func byName(spans tracetest.SpanStubs, name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func TestTracing(t *testing.T) {
	testserver.ForEachEngine(t, func(t *testing.T) {
		srvExp, cliExp := tracetest.NewInMemoryExporter(), tracetest.NewInMemoryExporter()
		srvTr := wsotel.New(&wsotel.Options{TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSyncer(srvExp))})
		cliTr := wsotel.New(&wsotel.Options{TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSyncer(cliExp))})

		reg := wsrpc.NewRegistry()
		reg.MustAdd("sub", func(p struct{ A, B int }) int { return p.A - p.B })
		reg.MustAdd("fail", func() error { return wsrpc.NewError("KeyError", "no") })
		inHandler := make(chan trace.SpanContext, 1)
		reg.MustAdd("callback", func(ctx context.Context) (int, error) {
			inHandler <- trace.SpanContextFromContext(ctx)
			return wsrpc.Call[int](ctx, wsrpc.ConnFromContext(ctx), "double", []int{21})
		})
		opts := &server.Options{Options: wsrpc.Options{KeepaliveInterval: -1}}
		srvTr.Instrument(&opts.Options)
		url := testserver.Listen(t, testserver.New(reg, opts))

		creg := wsrpc.NewRegistry()
		creg.MustAdd("double", func(n int) int { return 2 * n })
		copts := &client.Options{Options: wsrpc.Options{KeepaliveInterval: -1},
			Header: http.Header{"Traceparent": {"00-" + traceID + "-" + spanID + "-01"}}}
		cliTr.Instrument(&copts.Options)
		ctx, cancel := context.WithTimeout(context.Background(), testserver.WaitTimeout)
		defer cancel()
		c, err := client.Dial(ctx, url, creg, copts)
		require.NoError(t, err)
		n, err := wsrpc.Call[int](ctx, c, "sub", map[string]int{"A": 5, "B": 3})
		require.NoError(t, err)
		require.Equal(t, 2, n)
		require.ErrorIs(t, c.Call(ctx, "fail", nil, nil), &wsrpc.Error{Type: "KeyError"})
		require.Error(t, c.Call(ctx, "random-name", nil, nil))
		n, err = wsrpc.Call[int](ctx, c, "callback", nil)
		require.NoError(t, err)
		require.Equal(t, 42, n)
		handlerSpan := testserver.Recv(t, inHandler, "the callback handler's span context")
		require.NoError(t, c.Close())
		require.Eventually(t, func() bool { return len(byName(srvExp.GetSpans(), wsotel.ConnectionSpanName)) == 1 },
			testserver.WaitTimeout, time.Millisecond, "the server's connection span ends")

		spans := srvExp.GetSpans()
		conn := byName(spans, wsotel.ConnectionSpanName)[0]
		require.Equal(t, traceID, conn.SpanContext.TraceID().String(), "the connection joins the traceparent's trace")
		require.Equal(t, spanID, conn.Parent.SpanID().String(), "the traceparent's span is the connection span's parent")
		require.True(t, conn.Parent.IsRemote())
		require.Equal(t, trace.SpanKindServer, conn.SpanKind)
		require.Equal(t, wsrpc.ReasonNormal, attrs(conn)[wsotel.AttrCloseReason])

		for _, tc := range []struct {
			name, method, errType string
			kind                  trace.SpanKind
			parent                trace.SpanContext
		}{
			{"sub", "sub", "", trace.SpanKindServer, conn.SpanContext},
			{"fail", "fail", "KeyError", trace.SpanKindServer, conn.SpanContext},
			{wsotel.OtherMethod, wsotel.OtherMethod, "NotImplementedError", trace.SpanKindServer, conn.SpanContext},
			{"callback", "callback", "", trace.SpanKindServer, conn.SpanContext},
		} {
			got := byName(spans, tc.name)
			require.Len(t, got, 1, tc.name)
			s := got[0]
			require.Equal(t, tc.parent.SpanID(), s.Parent.SpanID(), "%s is a child of the connection span", tc.name)
			require.Equal(t, traceID, s.SpanContext.TraceID().String())
			require.Equal(t, tc.kind, s.SpanKind)
			a := attrs(s)
			require.Equal(t, "wsrpc", a[wsotel.AttrRPCSystem])
			require.Equal(t, tc.method, a[wsotel.AttrRPCMethod])
			require.Equal(t, tc.errType, a[wsotel.AttrErrorType])
			if tc.errType != "" {
				require.Equal(t, codes.Error, s.Status.Code)
			}
		}
		callback := byName(spans, "callback")[0]
		require.Equal(t, callback.SpanContext.SpanID(), handlerSpan.SpanID(), "the handler runs in its call's span")
		double := byName(spans, "double")
		require.Len(t, double, 1)
		require.Equal(t, trace.SpanKindClient, double[0].SpanKind, "the server's call back to the client")
		require.Equal(t, callback.SpanContext.SpanID(), double[0].Parent.SpanID(), "the handler's outgoing call is a child of its call")
		require.NotEmpty(t, attrs(double[0])[wsotel.AttrCallID])

		// The client: its calls are children of its connection span.
		require.Eventually(t, func() bool { return len(byName(cliExp.GetSpans(), wsotel.ConnectionSpanName)) == 1 },
			testserver.WaitTimeout, time.Millisecond, "the client's connection span ends")
		cspans := cliExp.GetSpans()
		cconn := byName(cspans, wsotel.ConnectionSpanName)[0]
		require.Equal(t, trace.SpanKindClient, cconn.SpanKind)
		for _, name := range []string{"sub", "fail", "random-name", "callback"} {
			got := byName(cspans, name)
			require.Len(t, got, 1, name)
			require.Equal(t, trace.SpanKindClient, got[0].SpanKind)
			require.Equal(t, cconn.SpanContext.SpanID(), got[0].Parent.SpanID(), "the client's %s is a child of its connection span", name)
		}
		cdouble := byName(cspans, "double")
		require.Len(t, cdouble, 1)
		require.Equal(t, trace.SpanKindServer, cdouble[0].SpanKind, "the client serves the server's call back")
	})
}
