package wsrpc

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"
)

// Defaults of Options. Each applies when the field is zero.
const (
	// DefaultMaxConcurrentRequests is how many handlers of one connection run
	// at once (the reference's max_concurrent_requests, enforced here).
	DefaultMaxConcurrentRequests = 25
	// DefaultMaxQueuedRequests is how many further calls of one connection
	// may wait for a free handler slot; past it a call gets a RuntimeError
	// reply at once. Large enough for ordinary pipelining (the reference's
	// tests pipeline 200 calls).
	DefaultMaxQueuedRequests = 1024
	// DefaultMaxQueuedBytes bounds the memory held by the calls of one
	// connection, running or waiting (100 calls of 12 KB fit many times
	// over).
	DefaultMaxQueuedBytes = 16 << 20
	// DefaultMaxSendQueueBytes bounds what one connection may have waiting to
	// be written. A peer that stops reading while replies pile up is
	// disconnected (close code 1008) with ErrSendQueueFull instead of growing
	// memory.
	DefaultMaxSendQueueBytes = 16 << 20
	// DefaultMaxDepth bounds the nesting of arrays and objects in a message.
	// A deeper call gets a TypeError reply; other deeper messages are
	// dropped. Nothing legitimate nests this deep; a hostile message that
	// does could make decoders recurse for a long time.
	DefaultMaxDepth = 64
	// DefaultKeepaliveInterval is how often the server pings a client (and how
	// long it waits for the pong) when keepalive is on.
	DefaultKeepaliveInterval = 30 * time.Second
	// DefaultClientTimeout is the largest ping round trip the server accepts
	// before it closes the connection as dead.
	DefaultClientTimeout = 10 * time.Second
	// DefaultInlineBudget is how long an inline handler (see Inline) may run
	// before its route is taken out of the read path for good, and how long
	// the netpoll engine lets one read's messages hold its poller before it
	// hands the rest to a worker.
	DefaultInlineBudget = time.Millisecond
)

// Options configure the connection engine of either side. The zero value is
// ready to use: every zero field takes the default named in its comment.
// The server and client packages embed Options in their own options.
type Options struct {
	// MaxConcurrentRequests caps the handlers running at once per connection.
	// Default DefaultMaxConcurrentRequests.
	MaxConcurrentRequests int
	// MaxQueuedRequests caps the calls waiting for a handler slot per
	// connection. Default DefaultMaxQueuedRequests; negative means none may
	// wait (a call over the concurrency limit is refused at once).
	MaxQueuedRequests int
	// MaxQueuedBytes caps the memory the peer's calls hold per connection,
	// running or waiting: each call is charged the capacity of the buffer
	// holding its message plus CallOverhead, from its arrival until its
	// handler returns. A call past it gets a RuntimeError reply at once; a
	// connection that holds no call always takes one. Default
	// DefaultMaxQueuedBytes.
	MaxQueuedBytes int64
	// MaxSendQueueBytes caps the memory the messages waiting to be written
	// hold per connection: each is charged its buffer's capacity plus
	// QueuedMessageOverhead. Past it the connection is closed (1008) with
	// ErrSendQueueFull. Default DefaultMaxSendQueueBytes.
	MaxSendQueueBytes int64

	// MaxDepth bounds the nesting of arrays and objects in a message.
	// Default DefaultMaxDepth.
	MaxDepth int

	// IdleTimeout closes a connection (code 1001) on which the peer has sent
	// no call and no event for this long. Replies and keepalive pongs do not
	// count. Default 0: never.
	IdleTimeout time.Duration

	// CallTimeout bounds outgoing calls whose context has no deadline.
	// Default 0: wait until the context ends or the connection closes.
	CallTimeout time.Duration

	// KeepaliveInterval turns on application-level keepalive (PROTOCOL §9):
	// this side calls the peer's "ping" right away and then an interval after
	// each pong, and closes the connection (1001) when a ping stays
	// unanswered for the longer of the interval and ClientTimeout, or (1011)
	// when a pong comes later than ClientTimeout. Zero or negative: off. The server package turns it on by default
	// (DefaultKeepaliveInterval); the reference clients do not ping.
	KeepaliveInterval time.Duration
	// ClientTimeout is the largest accepted ping round trip when keepalive is
	// on. Default DefaultClientTimeout.
	ClientTimeout time.Duration

	// InlineBudget bounds the time inline routes (see Inline) may take in a
	// connection's read path. A call of an inline route that runs longer
	// demotes the route for good (on every connection that shares the
	// registry): its later calls run on workers, like any other route, and
	// a warning is logged. On the server's netpoll engine, a read whose
	// messages have kept the poller busy longer than this hands the rest of
	// its messages to a worker. Default DefaultInlineBudget; negative turns
	// both off.
	InlineBudget time.Duration

	// OnEvent receives every event (message without an "id") from the peer.
	// The bytes are only valid during the call: copy what you keep.
	OnEvent func(c *Conn, event json.RawMessage)

	// Hooks observe connections and calls; nil for none.
	Hooks *Hooks

	// Interceptors wrap every call and event of this side's connections,
	// both ways (see Interceptor), the first listed outermost; routes add
	// their own with Intercept. The chains are built once, when the options
	// are resolved: none costs nothing per call.
	Interceptors []Interceptor

	// Logger receives the library's logs. Default: a logger that discards
	// everything. Nothing is logged per call at Info level or above.
	Logger *slog.Logger

	chains   *sideChains // built from Interceptors by withDefaults; nil for none
	resolved bool        // set on the copy withDefaults returns
}

var discardLogger = slog.New(slog.DiscardHandler)

// Resolved returns a copy of o with every default applied. Pass it to many
// connections (ConnConfig.Options) to share one copy between them.
func (o *Options) Resolved() *Options { return o.withDefaults() }

// withDefaults returns a copy of o with every zero field set to its default.
func (o *Options) withDefaults() *Options {
	if o != nil && o.resolved {
		return o // already resolved: connections of one server share it
	}
	var r Options
	if o != nil {
		r = *o
	}
	if r.MaxConcurrentRequests <= 0 {
		r.MaxConcurrentRequests = DefaultMaxConcurrentRequests
	}
	if r.MaxQueuedRequests == 0 {
		r.MaxQueuedRequests = DefaultMaxQueuedRequests
	} else if r.MaxQueuedRequests < 0 {
		r.MaxQueuedRequests = 0
	}
	if r.MaxQueuedBytes <= 0 {
		r.MaxQueuedBytes = DefaultMaxQueuedBytes
	}
	if r.MaxSendQueueBytes <= 0 {
		r.MaxSendQueueBytes = DefaultMaxSendQueueBytes
	}
	if r.MaxDepth <= 0 {
		r.MaxDepth = DefaultMaxDepth
	}
	if r.InlineBudget == 0 {
		r.InlineBudget = DefaultInlineBudget
	}
	if r.ClientTimeout <= 0 {
		r.ClientTimeout = DefaultClientTimeout
	}
	if r.Logger == nil {
		r.Logger = discardLogger
	}
	r.chains = newSideChains(r.Interceptors)
	r.resolved = true
	return &r
}

type connCtxKey struct{}
type jobCtxKey struct{}

// ConnFromContext returns the connection a handler was called on, or nil
// outside a handler. Handlers use it to call back into the peer, to read the
// connection's id, or (on the server) the upgrade request's headers and
// cookies.
func ConnFromContext(ctx context.Context) *Conn {
	if j, ok := ctx.Value(jobCtxKey{}).(*callJob); ok {
		return j.c
	}
	c, _ := ctx.Value(connCtxKey{}).(*Conn)
	return c
}
