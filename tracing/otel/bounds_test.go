package otel_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/internal/testserver"
	"github.com/wsrpc/wsrpc-go/server"
	wsotel "github.com/wsrpc/wsrpc-go/tracing/otel"
)

func newTracing(exp *tracetest.InMemoryExporter, keepalive bool) *wsotel.Tracing {
	return wsotel.New(&wsotel.Options{TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)), TraceKeepalivePings: keepalive})
}

// rawCall sends msg on a bare WebSocket connection to url and returns the
// reply: the call id is whatever msg says.
func rawCall(t *testing.T, url, msg string) string {
	ctx, cancel := context.WithTimeout(context.Background(), testserver.WaitTimeout)
	defer cancel()
	nc, _, _, err := ws.Dial(ctx, url)
	require.NoError(t, err)
	defer nc.Close()
	require.NoError(t, wsutil.WriteClientText(nc, []byte(msg)))
	require.NoError(t, nc.SetReadDeadline(time.Now().Add(testserver.WaitTimeout)))
	reply, err := wsutil.ReadServerText(nc)
	require.NoError(t, err)
	return string(reply)
}

// requireBounded checks every string attribute and the status description
// of spans: within MaxValueLength and valid UTF-8.
func requireBounded(t *testing.T, side string, spans tracetest.SpanStubs) {
	t.Helper()
	for _, s := range spans {
		for _, kv := range s.Attributes {
			if kv.Value.Type() == attribute.STRING {
				v := kv.Value.AsString()
				require.LessOrEqual(t, len(v), wsotel.MaxValueLength, "%s: span %s, attribute %s", side, s.Name, kv.Key)
				require.True(t, utf8.ValidString(v), "%s: span %s, attribute %s is not valid UTF-8", side, s.Name, kv.Key)
			}
		}
		require.LessOrEqual(t, len(s.Status.Description), wsotel.MaxValueLength, "%s: span %s, status", side, s.Name)
		require.True(t, utf8.ValidString(s.Status.Description), "%s: span %s, status is not valid UTF-8", side, s.Name)
	}
}

// intAttr returns the int attribute key of s, or -1.
func intAttr(s tracetest.SpanStub, key attribute.Key) int64 {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return kv.Value.AsInt64()
		}
	}
	return -1
}

func originalLength(key attribute.Key) attribute.Key {
	return attribute.Key(string(key) + wsotel.OriginalLengthSuffix)
}

// TestWireValuesAreBounded: a 1 MiB integer call id, and a peer answering
// with a 1 MiB error type and a 1 MiB message, leave every span attribute
// and status description within MaxValueLength, with the original lengths
// recorded; short values are kept whole.
func TestWireValuesAreBounded(t *testing.T) {
	testserver.ForEachEngine(t, func(t *testing.T) {
		srvExp, cliExp := tracetest.NewInMemoryExporter(), tracetest.NewInMemoryExporter()
		reg := wsrpc.NewRegistry()
		reg.MustAdd("fail", func() error { return wsrpc.NewError("KeyError", "no") })
		reg.MustAdd("relay", func(ctx context.Context) error {
			return wsrpc.ConnFromContext(ctx).Call(ctx, "boom", nil, nil)
		})
		opts := &server.Options{Options: wsrpc.Options{KeepaliveInterval: -1}}
		newTracing(srvExp, false).Instrument(&opts.Options)
		url := testserver.Listen(t, testserver.New(reg, opts))

		// 2-byte runes: a cut at the bound, less the 3 bytes of "…",
		// lands inside one unless it respects UTF-8.
		bigType := strings.Repeat("é", 1<<19)
		bigMessage := strings.Repeat("m", 1<<20)
		creg := wsrpc.NewRegistry()
		creg.MustAdd("boom", func() error { return wsrpc.NewError(bigType, bigMessage) })
		copts := &client.Options{Options: wsrpc.Options{KeepaliveInterval: -1}}
		newTracing(cliExp, false).Instrument(&copts.Options)
		ctx, cancel := context.WithTimeout(context.Background(), testserver.WaitTimeout)
		defer cancel()
		c, err := client.Dial(ctx, url, creg, copts)
		require.NoError(t, err)
		err = c.Call(ctx, "relay", nil, nil)
		require.ErrorIs(t, err, &wsrpc.Error{Type: bigType}, "the server passes the client's error on")
		require.Error(t, c.Call(ctx, "fail", nil, nil), "KeyError: short values stay whole")
		require.NoError(t, c.Close())

		bigID := "1" + strings.Repeat("0", 1<<20-1)
		reply := rawCall(t, url, `{"id":`+bigID+`,"method":"fail"}`)
		require.True(t, strings.HasPrefix(reply, `{"id":`+bigID+`,"error"`), "the id is echoed whole")

		statusLen := int64(len(bigType) + len(": ") + len(bigMessage))
		srvSpans := srvExp.GetSpans()
		requireBounded(t, "server", srvSpans)
		boom := byName(srvSpans, "boom")
		require.Len(t, boom, 1, "the server's call to the client")
		require.Equal(t, int64(len(bigType)), intAttr(boom[0], originalLength(wsotel.AttrErrorType)))
		require.Equal(t, statusLen, intAttr(boom[0], wsotel.AttrStatusOriginalLength))
		require.True(t, strings.HasPrefix(bigType, strings.TrimSuffix(attrs(boom[0])[wsotel.AttrErrorType], "…")), "the cut keeps the start")
		relay := byName(srvSpans, "relay")
		require.Len(t, relay, 1)
		require.Equal(t, int64(len(bigType)), intAttr(relay[0], originalLength(wsotel.AttrErrorType)))
		require.Equal(t, statusLen, intAttr(relay[0], wsotel.AttrStatusOriginalLength))

		fails := byName(srvSpans, "fail")
		require.Len(t, fails, 2)
		var sawBig bool
		for _, s := range fails {
			if n := intAttr(s, originalLength(wsotel.AttrCallID)); n != -1 {
				require.Equal(t, int64(len(bigID)), n, "the 1 MiB id's length")
				require.Len(t, attrs(s)[wsotel.AttrCallID], wsotel.MaxValueLength)
				sawBig = true
				continue
			}
			require.Equal(t, "KeyError", attrs(s)[wsotel.AttrErrorType], "a short value is kept whole")
			require.Equal(t, "KeyError: no", s.Status.Description)
			require.Equal(t, int64(-1), intAttr(s, wsotel.AttrStatusOriginalLength), "no length recorded for a value not cut")
		}
		require.True(t, sawBig, "the call with the 1 MiB id has a span")

		cliSpans := cliExp.GetSpans()
		requireBounded(t, "client", cliSpans)
		crelay := byName(cliSpans, "relay")
		require.Len(t, crelay, 1, "the client's call to the server")
		require.Equal(t, int64(len(bigType)), intAttr(crelay[0], originalLength(wsotel.AttrErrorType)))
	})
}

// TestKeepalivePingsAreNotTraced: the pings each side answers make no
// span, unless TraceKeepalivePings asks for them.
func TestKeepalivePingsAreNotTraced(t *testing.T) {
	testserver.ForEachEngine(t, func(t *testing.T) {
		for _, traced := range []bool{false, true} {
			t.Run(fmt.Sprintf("TraceKeepalivePings=%v", traced), func(t *testing.T) {
				srvExp, cliExp := tracetest.NewInMemoryExporter(), tracetest.NewInMemoryExporter()
				serverConn := make(chan *wsrpc.Conn, 1)
				ka := wsrpc.Options{KeepaliveInterval: 5 * time.Millisecond, Hooks: &wsrpc.Hooks{
					OnConnect: func(_ context.Context, c *wsrpc.Conn) error { serverConn <- c; return nil },
				}}
				opts := &server.Options{Options: ka}
				newTracing(srvExp, traced).Instrument(&opts.Options)
				url := testserver.Listen(t, testserver.New(wsrpc.NewRegistry(), opts))
				copts := &client.Options{Options: wsrpc.Options{KeepaliveInterval: 5 * time.Millisecond}}
				newTracing(cliExp, traced).Instrument(&copts.Options)
				ctx, cancel := context.WithTimeout(context.Background(), testserver.WaitTimeout)
				defer cancel()
				c, err := client.Dial(ctx, url, nil, copts)
				require.NoError(t, err)
				defer c.Close()
				sc := testserver.Recv(t, serverConn, "the server's connection")
				require.Eventually(t, func() bool { return c.Conn().Stats().Pongs >= 3 && sc.Stats().Pongs >= 3 },
					testserver.WaitTimeout, time.Millisecond, "both sides answer each other's pings")
				srvPings, cliPings := len(byName(srvExp.GetSpans(), "ping")), len(byName(cliExp.GetSpans(), "ping"))
				if !traced {
					require.Zero(t, srvPings, "server spans for keepalive pings")
					require.Zero(t, cliPings, "client spans for keepalive pings")
					return
				}
				require.GreaterOrEqual(t, srvPings, 3, "server spans for keepalive pings, on request")
				require.GreaterOrEqual(t, cliPings, 3, "client spans for keepalive pings, on request")
			})
		}
	})
}
