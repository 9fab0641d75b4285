// Package prometheus exports Prometheus metrics of wsrpc connections and
// calls, on github.com/prometheus/client_golang. It is a module of its own,
// so that the wsrpc module does not depend on Prometheus.
//
// A server counts its connections and the calls its clients make into its
// routes; a client counts its connections and the calls it makes:
//
//	m := prometheus.NewServerMetrics(nil) // registers with prometheus.DefaultRegisterer
//	opts := &server.Options{}
//	m.Instrument(&opts.Options)
//	srv := server.New(reg, opts)
//	http.Handle("/metrics", promhttp.Handler())
//
// The series, for a server (a client's are named wsrpc_client_...):
//
//	wsrpc_server_connections                          gauge: open connections
//	wsrpc_server_connections_total                    counter: connections opened
//	wsrpc_server_disconnects_total{reason}            counter: connections closed, by wsrpc.CloseReason
//	wsrpc_server_calls_total{method,outcome}          counter: calls answered, by outcome (below)
//	wsrpc_server_call_duration_seconds{method}        histogram: from the call's start to its answer
//	wsrpc_server_messages_received_total              counter: text messages received
//	wsrpc_server_messages_sent_total                  counter: text messages sent
//	wsrpc_server_received_bytes_total                 counter: their payload bytes (before compression)
//	wsrpc_server_sent_bytes_total                     counter: the same, sent
//
// No label takes a value the peer chooses. A server labels the calls of
// methods that are not registered with the single method "unknown", so a
// client sending random method names cannot grow the number of series. The
// outcome label takes its values from a fixed set: "ok"; for a failed call
// the error reply's type (wsrpc.ReplyType) when it is one of the engine's
// own (NotImplementedError, TypeError, ValueError, RuntimeError,
// TimeoutError, CancelledError, Exception) or listed in
// Options.AllowedErrorTypes; "closed" for a client's call whose connection
// closed first; "error" for any other type. A peer answering every call
// with a new error type (or a handler passing on the type a peer chose)
// therefore adds no series.
//
// The keepalive pings a side answers (wsrpc.Invocation.Keepalive) are not
// counted as calls, so an idle fleet does not look busy; set
// Options.CountKeepalivePings to count them under method "ping". Their
// messages and bytes are counted with the others.
package prometheus

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

// UnknownMethod is the method label of calls to methods that are not
// registered.
const UnknownMethod = "unknown"

// OutcomeOK is the outcome label of a call that succeeded. A failed one is
// labelled with its error reply's type (see wsrpc.ReplyType) when that is
// one of EngineErrorTypes() or Options.AllowedErrorTypes, else with
// OutcomeError; a client's call whose connection closed before the reply
// is labelled OutcomeClosed.
const (
	OutcomeOK     = "ok"
	OutcomeClosed = "closed"
	OutcomeError  = "error"
)

// EngineErrorTypes returns the error types the wsrpc engine itself replies
// with (wsrpc.ReplyType's for errors that are not an *wsrpc.Error); they
// label failed calls as themselves.
func EngineErrorTypes() []string {
	return []string{
		wsrpc.TypeNotImplemented, wsrpc.TypeTypeError, wsrpc.TypeValueError, wsrpc.TypeRuntimeError,
		wsrpc.TypeTimeoutError, wsrpc.TypeCancelledError, wsrpc.TypeException,
	}
}

// DefaultBuckets are the call-duration histogram's buckets, in seconds:
// from 100 µs (an inline call on loopback) to 10 s.
var DefaultBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Options configure Metrics. The zero value is ready to use.
type Options struct {
	// Registerer receives the collectors. Default
	// prometheus.DefaultRegisterer.
	Registerer prometheus.Registerer
	// Buckets of the call-duration histogram. Default DefaultBuckets.
	Buckets []float64
	// ConstLabels are added to every series (a service name, say).
	ConstLabels prometheus.Labels
	// AllowedErrorTypes lists the error types, beyond EngineErrorTypes(),
	// that label a failed call as themselves: your handlers' own, say
	// "KeyError" or "PermissionError". Any other type is labelled
	// OutcomeError, so that the number of series stays what you chose.
	AllowedErrorTypes []string
	// CountKeepalivePings counts the keepalive pings this side answers
	// (the peer's, every KeepaliveInterval) as calls of method "ping".
	// Default false: they are not calls.
	CountKeepalivePings bool
}

// Metrics are the collectors of one side; make them with NewServerMetrics
// or NewClientMetrics and hook them to the side's options with Instrument.
// All methods are safe for concurrent use.
type Metrics struct {
	server    bool                // a server counts incoming calls; a client, outgoing ones
	outcomes  map[string]struct{} // the error types that label an outcome as themselves
	keepalive bool                // count the keepalive pings answered (Options.CountKeepalivePings)

	connections      prometheus.Gauge
	connectionsTotal prometheus.Counter
	disconnects      *prometheus.CounterVec
	calls            *prometheus.CounterVec
	duration         *prometheus.HistogramVec
	messagesReceived prometheus.Counter
	messagesSent     prometheus.Counter
	receivedBytes    prometheus.Counter
	sentBytes        prometheus.Counter
}

// NewServerMetrics returns the metrics of a server (wsrpc_server_...),
// registered with opts.Registerer. It panics when they are registered
// already (prometheus.MustRegister), as the client_golang constructors do.
func NewServerMetrics(opts *Options) *Metrics { return newMetrics("server", opts) }

// NewClientMetrics returns the metrics of a client (wsrpc_client_...),
// counting the calls it makes, registered with opts.Registerer.
func NewClientMetrics(opts *Options) *Metrics { return newMetrics("client", opts) }

func newMetrics(side string, opts *Options) *Metrics {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.DefaultRegisterer
	}
	if o.Buckets == nil {
		o.Buckets = DefaultBuckets
	}
	name := func(n string) string { return "wsrpc_" + side + "_" + n }
	counter := func(n, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name(n), Help: help, ConstLabels: o.ConstLabels})
	}
	callHelp := "Calls the clients made into this server's routes, answered, by method and outcome (ok, the error reply's type when it is the engine's or allowed, else error)."
	durHelp := "Time from an incoming call's start to its answer, by method."
	if side == "client" {
		callHelp = "Calls this client made, completed, by method and outcome (ok, closed, the error reply's type when it is the engine's or allowed, else error)."
		durHelp = "Time from an outgoing call's start to its reply, by method."
	}
	outcomes := map[string]struct{}{}
	for _, ts := range [][]string{EngineErrorTypes(), o.AllowedErrorTypes} {
		for _, t := range ts {
			outcomes[t] = struct{}{}
		}
	}
	m := &Metrics{
		server:           side == "server",
		outcomes:         outcomes,
		keepalive:        o.CountKeepalivePings,
		connections:      prometheus.NewGauge(prometheus.GaugeOpts{Name: name("connections"), Help: "Open connections.", ConstLabels: o.ConstLabels}),
		connectionsTotal: counter("connections_total", "Connections opened."),
		disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("disconnects_total"),
			Help: "Connections closed, by reason (normal, going_away, protocol_error, too_big, send_queue_full, keepalive_timeout, idle_timeout, error).", ConstLabels: o.ConstLabels},
			[]string{"reason"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("calls_total"), Help: callHelp, ConstLabels: o.ConstLabels},
			[]string{"method", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name("call_duration_seconds"), Help: durHelp,
			Buckets: o.Buckets, ConstLabels: o.ConstLabels}, []string{"method"}),
		messagesReceived: counter("messages_received_total", "Text messages received."),
		messagesSent:     counter("messages_sent_total", "Text messages sent."),
		receivedBytes:    counter("received_bytes_total", "Payload bytes of the text messages received, before decompression."),
		sentBytes:        counter("sent_bytes_total", "Payload bytes of the text messages sent, before compression."),
	}
	o.Registerer.MustRegister(m)
	return m
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.connections, m.connectionsTotal, m.disconnects, m.calls, m.duration,
		m.messagesReceived, m.messagesSent, m.receivedBytes, m.sentBytes}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
}

// Instrument hooks m to the options of a side: it puts m's interceptor
// first in o.Interceptors (so the duration covers the others) and wraps
// o.Hooks, whose own hooks still run. Call it before the options are used
// (server.New, client.Dial).
func (m *Metrics) Instrument(o *wsrpc.Options) {
	o.Interceptors = append([]wsrpc.Interceptor{m.Interceptor()}, o.Interceptors...)
	o.Hooks = m.Hooks(o.Hooks)
}

// Interceptor returns the interceptor that counts and times calls: a
// server's incoming calls, a client's outgoing ones; keepalive pings only
// with Options.CountKeepalivePings.
func (m *Metrics) Interceptor() wsrpc.Interceptor {
	kind := wsrpc.KindOutgoingCall
	if m.server {
		kind = wsrpc.KindCall
	}
	return func(ctx context.Context, inv *wsrpc.Invocation, next wsrpc.Next) error {
		if inv.Kind != kind || inv.Keepalive && !m.keepalive {
			return next(ctx, inv)
		}
		start := time.Now()
		err := next(ctx, inv)
		took := time.Since(start).Seconds()
		method := inv.Method
		if m.server && !inv.Registered {
			method = UnknownMethod
		}
		m.calls.WithLabelValues(method, m.outcome(err)).Inc()
		m.duration.WithLabelValues(method).Observe(took)
		return err
	}
}

// outcome labels a call that returned err, from the fixed set.
func (m *Metrics) outcome(err error) string {
	switch {
	case err == nil:
		return OutcomeOK
	case !m.server && errors.Is(err, wsrpc.ErrClosed):
		return OutcomeClosed
	}
	if typ := wsrpc.ReplyType(err); typ != "" {
		if _, ok := m.outcomes[typ]; ok {
			return typ
		}
	}
	return OutcomeError
}

// Hooks returns hooks that count connections, disconnects and messages,
// then run next's (which may be nil).
func (m *Metrics) Hooks(next *wsrpc.Hooks) *wsrpc.Hooks {
	return wsrpc.ChainHooks(&wsrpc.Hooks{
		OnConnect: func(ctx context.Context, c *wsrpc.Conn) error {
			m.connections.Inc()
			m.connectionsTotal.Inc()
			return nil
		},
		OnClose: func(c *wsrpc.Conn, err error) {
			m.connections.Dec()
			m.disconnects.WithLabelValues(wsrpc.CloseReason(c, err)).Inc()
		},
		OnMessage: func(c *wsrpc.Conn, sent bool, msg []byte) {
			if sent {
				m.messagesSent.Inc()
				m.sentBytes.Add(float64(len(msg)))
			} else {
				m.messagesReceived.Inc()
				m.receivedBytes.Add(float64(len(msg)))
			}
		},
	}, next)
}
