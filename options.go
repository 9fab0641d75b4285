package wsrpc

import (
	"compress/flate"
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/wsrpc/wsrpc-go/internal/wsio"
)

// Defaults of Options. Each applies when the field is zero.
const (
	// DefaultMaxMessageSize is the largest message a peer may send (the
	// reference's limit); a larger one closes the connection with code 1009
	// before it is read.
	DefaultMaxMessageSize = wsio.DefaultMaxMessageSize
	// DefaultWriteTimeout bounds each write to the peer.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultCompressionThreshold is the smallest message compressed when
	// compression is on: compressing a short JSON reply costs more than it
	// saves.
	DefaultCompressionThreshold = wsio.DefaultCompressionThreshold
	// DefaultCompressionLevel is the compress/flate level of outgoing
	// messages when compression is on.
	DefaultCompressionLevel = flate.BestSpeed
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
	// DefaultKeepaliveInterval is how often each side pings its peer (and
	// how long it waits for the pong): keepalive is on unless
	// KeepaliveInterval is negative.
	DefaultKeepaliveInterval = 30 * time.Second
	// DefaultClientTimeout is the largest ping round trip this side accepts
	// before it closes the connection as dead.
	DefaultClientTimeout = 10 * time.Second
	// DefaultInlineBudget is how long an inline handler (see Inline) may run
	// before its route is taken out of the read path for good, and how long
	// the netpoll engine lets one read's messages hold its poller before it
	// hands the rest to a worker.
	DefaultInlineBudget = time.Millisecond
)

// Options configure the connection engine of either side. The zero value is
// ready to use: every zero field takes the default named in its comment, and
// zero means the same on the server and the client. The server and client
// packages embed Options in their own options, which hold only what is
// particular to that side; both resolve it with Resolved.
type Options struct {
	// MaxMessageSize is the largest message the peer may send; a larger one
	// closes the connection with code 1009 before it is read. Default
	// DefaultMaxMessageSize.
	MaxMessageSize int64

	// WriteTimeout bounds each write to the peer; a peer that does not read
	// for that long is disconnected. Default DefaultWriteTimeout.
	WriteTimeout time.Duration

	// EnableCompression turns on permessage-deflate (RFC 7692), always
	// without context takeover, so that compression state is pooled rather
	// than kept per connection: the client offers it, and the server
	// accepts it from clients that offer it (browsers and Node's ws do).
	// Messages of at least CompressionThreshold bytes go out compressed;
	// inflated messages are bounded by MaxMessageSize: a small message that
	// would inflate past it closes the connection with 1009 without being
	// inflated. A client refuses a server that accepts but keeps its context
	// between messages (client.ErrCompressionParameters); connections given
	// to the server's ServeUpgraded never use it. Off by default:
	// compression trades CPU for bandwidth.
	EnableCompression bool
	// CompressionThreshold is the smallest message compressed; shorter ones
	// go out as they are. Default DefaultCompressionThreshold.
	CompressionThreshold int
	// CompressionLevel is the compress/flate level of outgoing messages.
	// Default DefaultCompressionLevel.
	CompressionLevel int

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

	// KeepaliveInterval is the period of application-level keepalive
	// (docs/protocol.md §9): this side calls the peer's "ping" right away and then
	// an interval after each pong, and closes the connection (1001) when a
	// ping stays unanswered for the longer of the interval and
	// ClientTimeout, or (1011) when a pong comes later than ClientTimeout.
	// Every wsrpc peer answers it with the built-in ping route. Default
	// DefaultKeepaliveInterval, on both sides and for a Conn made with
	// NewConn; negative turns keepalive off (the reference clients do not
	// ping).
	KeepaliveInterval time.Duration
	// ClientTimeout is the largest accepted ping round trip when keepalive is
	// on. Default DefaultClientTimeout.
	ClientTimeout time.Duration

	// InlineBudget bounds the time inline routes (see Inline) may take in a
	// connection's read path. Each connection times about one inline call
	// in 8 against it (its first included, and in no fixed pattern), and
	// every inline call after one that ran longer. Two timed calls of a
	// route in a row that run longer demote the route for good (on every
	// connection that shares the registry): its later calls run on
	// workers, like any other route, and a warning is logged. A route slow
	// on every call is demoted by its second call; one slow route among
	// others called in turn, within a few dozen of its calls. On the server's netpoll engine, a read whose
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

// Resolved returns a copy of o with every default applied: the one place
// the defaults of Options are decided, for the engine, the server and the
// client. A negative KeepaliveInterval stays negative (off). Pass the copy
// to many connections (ConnConfig.Options) to share it between them. o may
// be nil.
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
	if r.MaxMessageSize <= 0 {
		r.MaxMessageSize = DefaultMaxMessageSize
	}
	if r.WriteTimeout <= 0 {
		r.WriteTimeout = DefaultWriteTimeout
	}
	if r.CompressionThreshold <= 0 {
		r.CompressionThreshold = DefaultCompressionThreshold
	}
	if r.CompressionLevel == 0 {
		r.CompressionLevel = DefaultCompressionLevel
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
	if r.KeepaliveInterval == 0 {
		r.KeepaliveInterval = DefaultKeepaliveInterval
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
