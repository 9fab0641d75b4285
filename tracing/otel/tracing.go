// Package otel traces wsrpc connections and calls with OpenTelemetry. It is
// a module of its own, so that the wsrpc module does not depend on
// OpenTelemetry.
//
// Each connection gets a span ("wsrpc.connection") from OnConnect to
// OnClose; on a server, its parent is the trace context of the upgrade
// request's traceparent header when there is one (the W3C Trace Context,
// or the propagator of Options). Each incoming and outgoing call gets a
// span, a child of the span in the call's context (so an outgoing call
// made by a handler is a child of the handler's call), else of the
// connection's. The call spans follow the RPC semantic conventions:
// rpc.system "wsrpc", rpc.method, and error.type (the error reply's type)
// when the call failed. Handlers see their call's span in their context
// (trace.SpanFromContext).
//
// Values that come from the wire (the call id, the error reply's type, the
// status description, the connection id) are cut to MaxValueLength bytes,
// at a UTF-8 boundary and ending in "…", with their original length in
// bytes recorded under the attribute's key plus ".original_length" (for
// the status description, AttrStatusOriginalLength), so a peer cannot grow
// a span. A method name never comes from the peer: a call to a method that
// is not registered is named OtherMethod.
//
// The keepalive pings a side answers (wsrpc.Invocation.Keepalive) are not
// traced, so an idle connection makes no spans; set
// Options.TraceKeepalivePings to trace them.
//
//	tr := otel.New(nil) // the global TracerProvider
//	opts := &server.Options{}
//	tr.Instrument(&opts.Options)
//	srv := server.New(reg, opts)
package otel

import (
	"context"
	"net/http"
	"sync"
	"unicode/utf8"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

// ScopeName is the instrumentation scope of the spans.
const ScopeName = "github.com/wsrpc/wsrpc-go/tracing/otel"

// ConnectionSpanName is the name of a connection's span.
const ConnectionSpanName = "wsrpc.connection"

// OtherMethod names the spans (and rpc.method) of calls to methods that are
// not registered, as the semantic conventions ask, so that random names
// cannot grow the set of span names.
const OtherMethod = "_OTHER"

// Attribute keys the spans carry.
const (
	AttrRPCSystem   = attribute.Key("rpc.system")
	AttrRPCMethod   = attribute.Key("rpc.method")
	AttrErrorType   = attribute.Key("error.type")
	AttrCallID      = attribute.Key("wsrpc.call.id")
	AttrConnID      = attribute.Key("wsrpc.connection.id")
	AttrCloseReason = attribute.Key("wsrpc.close.reason")
	AttrPeerAddress = attribute.Key("network.peer.address")
	// AttrStatusOriginalLength is the length in bytes of a status
	// description that was cut to MaxValueLength.
	AttrStatusOriginalLength = attribute.Key("wsrpc.status.original_length")
)

// MaxValueLength bounds, in bytes, each attribute value and status
// description taken from the wire. A longer one is cut at a UTF-8 boundary
// to end in "…" within the bound, and its original length is recorded.
const MaxValueLength = 256

// OriginalLengthSuffix ends the key of the attribute recording the length
// of a value that was cut: "wsrpc.call.id.original_length".
const OriginalLengthSuffix = ".original_length"

// Options configure Tracing. The zero value is ready to use.
type Options struct {
	// TracerProvider makes the tracer. Default otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// Propagator extracts the connection span's parent from the upgrade
	// request's headers. Default propagation.TraceContext{}.
	Propagator propagation.TextMapPropagator
	// TraceKeepalivePings makes a span for each keepalive ping this side
	// answers (the peer's, every KeepaliveInterval). Default false: they
	// are not calls.
	TraceKeepalivePings bool
}

// Tracing makes the spans of one side's connections and calls. All methods
// are safe for concurrent use.
type Tracing struct {
	tracer    trace.Tracer
	prop      propagation.TextMapPropagator
	keepalive bool // trace the keepalive pings answered (Options.TraceKeepalivePings)

	mu    sync.Mutex                 // protects the following
	conns map[*wsrpc.Conn]trace.Span // the open connections' spans
}

// New returns a Tracing; opts may be nil.
func New(opts *Options) *Tracing {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.TracerProvider == nil {
		o.TracerProvider = otel.GetTracerProvider()
	}
	if o.Propagator == nil {
		o.Propagator = propagation.TraceContext{}
	}
	return &Tracing{tracer: o.TracerProvider.Tracer(ScopeName), prop: o.Propagator, keepalive: o.TraceKeepalivePings,
		conns: map[*wsrpc.Conn]trace.Span{}}
}

// Instrument hooks t to the options of a side: its interceptor goes first
// in o.Interceptors (so the others run inside the call's span), and o.Hooks
// is wrapped, its own hooks still running. Call it before the options are
// used (server.New, client.Dial).
func (t *Tracing) Instrument(o *wsrpc.Options) {
	o.Interceptors = append([]wsrpc.Interceptor{t.Interceptor()}, o.Interceptors...)
	o.Hooks = t.Hooks(o.Hooks)
}

// Hooks returns hooks that start a connection's span on OnConnect and end
// it on OnClose, then run next's (which may be nil).
func (t *Tracing) Hooks(next *wsrpc.Hooks) *wsrpc.Hooks {
	return wsrpc.ChainHooks(&wsrpc.Hooks{
		OnConnect: func(ctx context.Context, c *wsrpc.Conn) error {
			t.startConn(c)
			return nil
		},
		OnClose: t.endConn,
	}, next)
}

func (t *Tracing) startConn(c *wsrpc.Conn) {
	ctx := context.Background()
	kind := trace.SpanKindClient
	if c.Role() == wsrpc.RoleServer {
		kind = trace.SpanKindServer
		if r := c.Request(); r != nil {
			ctx = t.prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
		}
	}
	attrs := bounded([]attribute.KeyValue{AttrRPCSystem.String("wsrpc")}, AttrConnID, c.ID())
	if a := c.RemoteAddr(); a != nil {
		attrs = append(attrs, AttrPeerAddress.String(a.String()))
	}
	_, span := t.tracer.Start(ctx, ConnectionSpanName, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
	t.mu.Lock()
	t.conns[c] = span
	t.mu.Unlock()
}

func (t *Tracing) endConn(c *wsrpc.Conn, err error) {
	t.mu.Lock()
	span := t.conns[c]
	delete(t.conns, c)
	t.mu.Unlock()
	if span == nil {
		return
	}
	span.SetAttributes(AttrCloseReason.String(wsrpc.CloseReason(c, err)))
	if err != nil {
		span.RecordError(err)
		setErrorStatus(span, err)
	}
	span.End()
}

// connSpan returns the span of c, or nil while it has none.
func (t *Tracing) connSpan(c *wsrpc.Conn) trace.Span {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.conns[c]
}

// Interceptor returns the interceptor that makes a span per incoming and
// outgoing call; the handler of an incoming call runs with its span in its
// context.
func (t *Tracing) Interceptor() wsrpc.Interceptor {
	return func(ctx context.Context, inv *wsrpc.Invocation, next wsrpc.Next) error {
		var kind trace.SpanKind
		switch inv.Kind {
		case wsrpc.KindCall:
			kind = trace.SpanKindServer
		case wsrpc.KindOutgoingCall:
			kind = trace.SpanKindClient
		default:
			return next(ctx, inv)
		}
		if inv.Keepalive && !t.keepalive {
			return next(ctx, inv)
		}
		parent := ctx
		if !trace.SpanContextFromContext(ctx).IsValid() {
			if cs := t.connSpan(inv.Conn); cs != nil {
				parent = trace.ContextWithSpan(ctx, cs)
			}
		}
		method := inv.Method
		if inv.Kind == wsrpc.KindCall && !inv.Registered {
			method = OtherMethod
		}
		attrs := []attribute.KeyValue{AttrRPCSystem.String("wsrpc"), AttrRPCMethod.String(method)}
		if inv.ID != nil {
			attrs = bounded(attrs, AttrCallID, string(inv.ID))
		}
		ctx, span := t.tracer.Start(parent, method, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
		defer span.End()
		err := next(ctx, inv)
		if inv.Kind == wsrpc.KindOutgoingCall && inv.ID != nil {
			span.SetAttributes(bounded(nil, AttrCallID, string(inv.ID))...)
		}
		if err != nil {
			span.SetAttributes(bounded(nil, AttrErrorType, wsrpc.ReplyType(err))...)
			setErrorStatus(span, err)
		}
		return err
	}
}

// cut returns s cut to MaxValueLength bytes at a UTF-8 boundary, ending in
// "…", and whether it was cut.
func cut(s string) (string, bool) {
	if len(s) <= MaxValueLength {
		return s, false
	}
	n := MaxValueLength - len("…")
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…", true
}

// bounded appends key=v to attrs, v cut by cut, and v's length under key +
// OriginalLengthSuffix when it was cut.
func bounded(attrs []attribute.KeyValue, key attribute.Key, v string) []attribute.KeyValue {
	short, wasCut := cut(v)
	attrs = append(attrs, key.String(short))
	if wasCut {
		attrs = append(attrs, attribute.Int(string(key)+OriginalLengthSuffix, len(v)))
	}
	return attrs
}

// setErrorStatus sets span's status to Error, described by err cut by cut,
// recording the description's length when it was cut.
func setErrorStatus(span trace.Span, err error) {
	desc := err.Error()
	short, wasCut := cut(desc)
	if wasCut {
		span.SetAttributes(AttrStatusOriginalLength.Int(len(desc)))
	}
	span.SetStatus(codes.Error, short)
}

// Header returns the traceparent (and other) headers of ctx's span, for a
// client's upgrade request (client.Options.Header), so that the server's
// connection span joins the client's trace.
func (t *Tracing) Header(ctx context.Context) http.Header {
	h := http.Header{}
	t.prop.Inject(ctx, propagation.HeaderCarrier(h))
	return h
}
