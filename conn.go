// This file holds the Conn type: its fields, grouped by the file that owns
// them, its constructor and its accessors.

package wsrpc

import (
	"bufio"
	"context"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Transport carries the messages of one connection. The server and client
// packages implement it over WebSocket; users who run their own I/O loop
// implement it to drive a Conn themselves.
type Transport interface {
	// WriteMessages writes each message as one WebSocket text message, in
	// order, preferably in one write. The engine never calls it from two
	// goroutines at once. It may block; it should give up after a write
	// deadline and return an error, which closes the connection.
	WriteMessages(msgs [][]byte) error
	// Close sends a close frame with the code and reason (unless one was
	// already exchanged) and releases the connection. It is called once.
	Close(code int, reason string) error
}

// Role says which end of the connection a Conn is. It picks the outgoing id
// sequence: servers use even ids from 2 and clients odd ids from 3, as the
// reference implementations do.
type Role uint8

// The two roles.
const (
	RoleServer Role = iota
	RoleClient
)

// ConnConfig is what NewConn needs besides the transport.
type ConnConfig struct {
	Role     Role
	Registry *Registry     // the routes the peer may call; nil for none but ping
	Options  *Options      // nil for the defaults
	Request  *http.Request // the upgrade request, on the server; may be nil
	// RequestHead is the raw head of the upgrade request, for servers that
	// keep it instead of a parsed Request (it is much smaller); Request()
	// parses it on first use. The Conn keeps these bytes without copying
	// them: do not modify them after NewConn.
	RequestHead []byte
	ID          string          // the connection id; default a random UUID
	Value       any             // what Conn.Value and PeerValue return; default nil
	Context     context.Context // parent of every handler context; default Background
	// Workers runs the handlers; connections of one server share one pool.
	// Default: a pool of this connection's own.
	Workers *WorkerPool
	// BatchedReads says that the reader calls Flush after each batch of
	// HandleMessage calls (each read from the network). It lets the engine
	// run inline routes (see Inline) on the reader's goroutine and write
	// their replies together.
	BatchedReads bool
}

// CloseConnectRefused is the close code of a connection whose OnConnect hook
// returned an error (1011, internal error: the server could not set the
// connection up).
const CloseConnectRefused = 1011

// Close codes the engine uses.
const (
	closeNormal         = 1000
	closeGoingAway      = 1001
	closePolicyViolated = 1008
	closeInternal       = 1011
)

// Conn is one wsrpc connection: the engine both sides share. It is driven by
// events: the transport's reader hands it each complete text message with
// HandleMessage and reports the end of the stream with HandleClose; the engine
// answers through Transport.WriteMessages. It never assumes it owns a
// goroutine: handlers run on goroutines of their own, and nothing in
// HandleMessage blocks on the network.
//
// Either side calls the other with Call (or the typed helpers Call and Proxy)
// and sends events with Emit. All methods are safe for concurrent use.
//
// The entry points, for those who read the engine: HandleMessage (dispatch.go)
// routes a call to handleCall, a reply to handleReply (call.go) and an event
// to the OnEvent hook. An incoming call is admitted by admitLocked
// (schedule.go), run by run (on a worker, or inline on the reader), and
// finish hands the worker the next call that waited for it, as a return
// value. An outgoing call follows the pending-call protocol: startCall
// registers it in calls.pending under a fresh id and sends it, Call waits for
// handleReply to remove and complete it (or for its context, which removes
// it itself), and closeWith completes every call still pending with
// ErrClosed. Flush (sendqueue.go) writes what inline calls queued; Start,
// Drain and Close (lifecycle.go) bound the connection's life.
type Conn struct {
	// uuid is the connection's random id, formatted when asked (see ID);
	// zero when the transport gave one, which life.sig holds.
	uuid [16]byte
	// The registry, options, pool and parent context, shared with the
	// other connections made with the same ones.
	*connShared
	t       Transport
	reqHead string // parsed into life.sig.req on the first Request (guarded by mu)

	mu sync.Mutex // protects reqHead, calls.pending, sched, instances, life, ka.id and the flags so marked

	calls     pendingTable   // outgoing calls (call.go)
	sched     scheduler      // incoming calls: admitted, running, waiting (schedule.go)
	instances *instance      // struct-route instances, a list: there are few per connection (instance.go)
	life      lifecycleState // why and how the connection ended (lifecycle.go)
	out       sendQueue      // what waits to be written (sendqueue.go)
	ka        keepaliveState // keepalive and IdleTimeout (keepalive.go)

	// The flags of the groups above, kept here so that they share one word
	// (in their groups each would pad a word of its own).
	role              Role
	ctxCanceled       bool // context.go (guarded by mu)
	closed, finished  bool // lifecycle.go: closed, and cleaned up after (guarded by mu)
	flushing, wclosed bool // sendqueue.go (guarded by out.mu)
	kaOn              bool // keepalive.go: keepalive started and not stopped (guarded by mu)
	kaWaiting         bool // keepalive.go: a ping waits for its pong (guarded by mu)
}

// pendingTable is the outgoing calls waiting for their replies, by id (see
// call.go).
type pendingTable struct {
	nextID  atomic.Int64           // the last id used
	pending map[int64]*pendingCall // nil while no call waits (guarded by Conn.mu)
}

// scheduler is the state of the incoming calls (see schedule.go), guarded
// by Conn.mu.
type scheduler struct {
	waiting  *waitQueue  // admitted calls not started yet; nil while none
	inflight inflightSet // incoming calls running or queued, by id
	started  int32       // calls given a goroutine (or kept by their caller) whose run has not finished
	running  int32       // calls running
	draining bool        // Drain was called: new calls are refused
	batch    bool        // ConnConfig.BatchedReads (set once)
	// inlineTick counts the inline calls since the last one that was
	// timed against InlineBudget (see inline.go); only the read path (the
	// goroutine in HandleMessage) touches it, so it needs no lock.
	inlineTick uint16
}

// lifecycleState is the channels waiting for the connection's end and why
// it closed (see lifecycle.go and context.go), guarded by Conn.mu. Both
// live in a record made when first needed: an open connection that nobody
// waits on has none.
type lifecycleState struct {
	sig *connSignals // made when first needed
}

// sendQueue is what waits to be written (see sendqueue.go).
type sendQueue struct {
	mu    sync.Mutex // protects the following and Conn.flushing, Conn.wclosed
	sb    *sendBufs  // nil while nothing waits to be written
	bytes int64
}

// keepaliveState is a connection's part of keepalive and IdleTimeout (see
// keepalive.go).
type keepaliveState struct {
	// The pool's kaScheduler owns queue, prev, next and due (under its
	// mutex).
	queue      *kaQueue
	prev, next *Conn
	due        int64
	id         int64         // the ping's id (guarded by Conn.mu)
	pongStats  atomic.Uint64 // pongs in the top 32 bits, the last RTT in µs below
	// A ping under way left at due - pongWait (see onPong); the IdleTimeout
	// state is in life.sig (see idleState).
}

// NewConn returns a connection engine writing to t. Call Start once the
// transport is ready to read, then feed it with HandleMessage and
// HandleClose.
func NewConn(t Transport, cfg ConnConfig) *Conn {
	opts := cfg.Options.withDefaults()
	parent := cfg.Context
	if parent == nil {
		parent = context.Background()
	}
	pool, reg := cfg.Workers, cfg.Registry
	if pool == nil {
		pool = NewWorkerPool(0)
	}
	if reg == nil {
		reg = NewRegistry()
	}
	c := &Conn{
		role:       cfg.Role,
		connShared: pool.shared(reg, opts, parent),
		t:          t,
		reqHead:    unsafe.String(unsafe.SliceData(cfg.RequestHead), len(cfg.RequestHead)),
	}
	c.sched.batch = cfg.BatchedReads
	c.setIdentity(cfg.ID, cfg.Value, cfg.Request)
	if c.role == RoleClient {
		c.calls.nextID.Store(1)
	}
	if opts.IdleTimeout > 0 {
		// Made now, and never replaced: idleState reads it without mu.
		if c.life.sig == nil {
			c.life.sig = new(connSignals)
		}
		c.life.sig.idle.lastActive.Store(time.Now().UnixNano())
	}
	return c
}

// connShared is what the connections of one server have in common.
type connShared struct {
	reg    *Registry
	opts   *Options // resolved: Hooks and Logger are read from here
	pool   *WorkerPool
	parent context.Context // ConnConfig.Context
}

// shared returns the connShared of connections made with p and these, the
// last one made when it matches (a server makes all its connections with the
// same), else a new one.
func (p *WorkerPool) shared(reg *Registry, opts *Options, parent context.Context) *connShared {
	if s := p.lastShared.Load(); s != nil && s.reg == reg && s.opts == opts && sameInterface(s.parent, parent) {
		return s
	}
	s := &connShared{reg: reg, opts: opts, pool: p, parent: parent}
	p.lastShared.Store(s)
	return s
}

// sameInterface reports whether a and b hold the very same value: the same
// dynamic type and the same data word. Unlike ==, it never panics on a value
// that is not comparable; equal values that are not identical are not the
// same to it, which only costs a connShared.
func sameInterface(a, b context.Context) bool {
	return *(*[2]unsafe.Pointer)(unsafe.Pointer(&a)) == *(*[2]unsafe.Pointer)(unsafe.Pointer(&b))
}

// Role reports which end of the connection this is.
func (c *Conn) Role() Role { return c.role }

// Request returns the HTTP upgrade request of a server connection (its
// headers, cookies and URL), or nil on a client connection. Its RemoteAddr
// is the client's address.
//
// Connections served by the server's Serve or ServeConn keep the raw head
// of the request, without the headers that only served the handshake
// (Upgrade, Connection and Sec-WebSocket-Key, -Version and -Extensions),
// and parse it on the first call.
func (c *Conn) Request() *http.Request {
	c.mu.Lock()
	head, req := c.reqHead, c.requestLocked()
	c.mu.Unlock()
	if head == "" {
		return req
	}
	// Parsed outside the lock, which guards the engine's hot paths; the
	// transport's RemoteAddr may be any code.
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head)))
	if err == nil {
		if a := c.RemoteAddr(); a != nil {
			r.RemoteAddr = a.String()
		}
	} else {
		r = nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reqHead != "" { // the first parse wins
		c.reqHead = ""
		if r != nil {
			c.signalsLocked().req = r
		}
	}
	return c.requestLocked()
}

// requestLocked is the parsed upgrade request, or nil (mu held).
func (c *Conn) requestLocked() *http.Request {
	if c.life.sig == nil {
		return nil
	}
	return c.life.sig.req
}

// RemoteAddr returns the peer's network address, or nil when the transport
// does not know it (a Transport reports it with a RemoteAddr() net.Addr
// method, as the server's and the client's do).
func (c *Conn) RemoteAddr() net.Addr {
	if a, ok := c.t.(interface{ RemoteAddr() net.Addr }); ok {
		return a.RemoteAddr()
	}
	return nil
}

// LocalAddr returns this side's network address, or nil when the transport
// does not know it (see RemoteAddr).
func (c *Conn) LocalAddr() net.Addr {
	if a, ok := c.t.(interface{ LocalAddr() net.Addr }); ok {
		return a.LocalAddr()
	}
	return nil
}

// Context returns the connection's context: it carries the connection
// (ConnFromContext) and is cancelled when the connection closes.
func (c *Conn) Context() context.Context { return connContext{c} }

// Stats are counters of one connection.
type Stats struct {
	// Pongs counts the keepalive pings the peer answered (modulo 2³²).
	Pongs uint64
	// LastPingRTT is the round trip of the last answered keepalive ping,
	// to the microsecond.
	LastPingRTT time.Duration
	// QueuedBytes is what the peer's calls hold now, running or waiting,
	// as MaxQueuedBytes counts it (see CallOverhead).
	QueuedBytes int64
	// SendQueueBytes is what the messages waiting to be written hold now,
	// as MaxSendQueueBytes counts it (see QueuedMessageOverhead).
	SendQueueBytes int64
}

// packPongStats packs a pong count (mod 2³²) and a round trip (in
// microseconds, at most about 71 minutes) into one word.
func packPongStats(pongs uint64, rtt time.Duration) uint64 {
	us := uint64(max(rtt/time.Microsecond, 0))
	return pongs<<32 | min(us, math.MaxUint32)
}

// Stats returns the connection's counters.
func (c *Conn) Stats() Stats {
	v := c.ka.pongStats.Load()
	return Stats{
		Pongs:          v >> 32,
		LastPingRTT:    time.Duration(uint32(v)) * time.Microsecond,
		QueuedBytes:    c.heldCallBytes(),
		SendQueueBytes: c.sendQueueBytes(),
	}
}
