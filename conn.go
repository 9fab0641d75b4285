package wsrpc

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/mailru/easyjson"
	"github.com/mailru/easyjson/jlexer"
	"github.com/mailru/easyjson/jwriter"
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
type Conn struct {
	id string
	// The registry, options, pool and parent context, shared with the
	// other connections made with the same ones.
	*connShared
	t       Transport
	req     *http.Request
	reqHead string // parsed into req on the first Request (guarded by mu)
	// While finish (takeNext) or handleCall (takeInline) hold mu, the first
	// call spawnLocked starts is left to them (see spawnLocked).
	nextJob, inlineJob *callJob

	sig *connSignals // made when first needed (guarded by mu)

	nextID atomic.Int64

	mu        sync.Mutex
	closeErr  error
	waiting   *waitQueue  // admitted calls not started yet; nil while none
	instances *instance   // a list: there are few per connection
	inflight  inflightSet // incoming calls running or queued, by id
	pending   map[int64]*pendingCall
	handlers  sync.WaitGroup

	wmu       sync.Mutex
	sb        *sendBufs // nil while nothing waits to be written
	sendBytes int64

	pongStats atomic.Uint64 // pongs in the top 32 bits, the last RTT in µs below
	idle      *idleState    // with IdleTimeout only

	// Keepalive: the pool's kaScheduler owns kaQueue, kaPrev, kaNext and
	// kaDue (under its mutex).
	kaQueue        *kaQueue
	kaPrev, kaNext *Conn
	kaDue          int64
	kaID           int64 // guarded by mu
	kaStart        int64 // monotonic time the ping left (guarded by mu)

	running int32 // calls running (guarded by mu)

	// The flags, together so that they share words.
	role                 Role
	batch                bool // ConnConfig.BatchedReads
	takeNext, takeInline bool // guarded by mu
	ctxCanceled          bool // guarded by mu
	finished             bool // closed and cleaned up (guarded by mu)
	closed, draining     bool // guarded by mu
	flushing, wclosed    bool // guarded by wmu
	kaOn                 bool // keepalive started and not stopped (guarded by mu)
	kaWaiting            bool // guarded by mu
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
		id:         cfg.ID,
		role:       cfg.Role,
		connShared: pool.shared(reg, opts, parent),
		t:          t,
		req:        cfg.Request,
		reqHead:    unsafe.String(unsafe.SliceData(cfg.RequestHead), len(cfg.RequestHead)),
		batch:      cfg.BatchedReads,
	}
	if c.id == "" {
		c.id = newUUID()
	}
	c.setValue(cfg.Value)
	if c.role == RoleClient {
		c.nextID.Store(1)
	}
	if opts.IdleTimeout > 0 {
		c.idle = new(idleState)
		c.idle.lastActive.Store(time.Now().UnixNano())
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

// connSignals are the channels of a connection that someone waits on, made
// on first use: most connections never need them.
type connSignals struct {
	ctxDone chan struct{} // made on the first ctx.Done
	ctxStop func() bool   // unregisters from the parent context
	done    chan struct{} // made on the first Done
	value   any           // ConnConfig.Value (see identity.go)
}

// signalsLocked returns c.sig, making it (mu held).
func (c *Conn) signalsLocked() *connSignals {
	if c.sig == nil {
		c.sig = new(connSignals)
	}
	return c.sig
}

// idleState is the IdleTimeout bookkeeping of a connection.
type idleState struct {
	lastActive atomic.Int64 // unix nanoseconds of the last call or event
	timer      *time.Timer  // guarded by Conn.mu
}

// connContext is a connection's context, which its handlers receive: it
// carries the Conn (ConnFromContext) and is cancelled when the connection
// closes or its parent context ends. It is the Conn itself, so a
// connection allocates no context of its own, and its Done channel is only
// made when someone asks for it.
type connContext struct{ c *Conn }

// Deadline is the parent's.
func (x connContext) Deadline() (time.Time, bool) { return x.c.parent.Deadline() }

// Value returns the Conn for connCtxKey, else the parent's value.
func (x connContext) Value(key any) any {
	if _, ok := key.(connCtxKey); ok {
		return x.c
	}
	return x.c.parent.Value(key)
}

// Done returns a channel closed when the connection closes or the parent
// context ends.
func (x connContext) Done() <-chan struct{} {
	c := x.c
	c.mu.Lock()
	sig := c.signalsLocked()
	if sig.ctxDone == nil {
		sig.ctxDone = make(chan struct{})
		if c.ctxCanceled {
			close(sig.ctxDone)
		} else if c.parent.Done() != nil {
			sig.ctxStop = context.AfterFunc(c.parent, c.cancelContext)
		}
	}
	ch := sig.ctxDone
	c.mu.Unlock()
	return ch
}

// Err is context.Canceled once the connection closed, else the parent's.
func (x connContext) Err() error {
	c := x.c
	c.mu.Lock()
	canceled := c.ctxCanceled
	c.mu.Unlock()
	if canceled {
		return context.Canceled
	}
	if err := c.parent.Err(); err != nil {
		c.cancelContext()
		return context.Canceled
	}
	return nil
}

func (x connContext) String() string { return "wsrpc.Conn(" + x.c.id + ").Context" }

// cancelContext cancels the connection's context. Idempotent.
func (c *Conn) cancelContext() {
	c.mu.Lock()
	var stop func() bool
	if !c.ctxCanceled {
		c.ctxCanceled = true
		if sig := c.sig; sig != nil {
			if sig.ctxDone != nil {
				close(sig.ctxDone)
			}
			stop, sig.ctxStop = sig.ctxStop, nil
		}
	}
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// Start runs the OnConnect hook and starts keepalive if it is configured.
// Call it once, after the connection is registered and before the first
// HandleMessage.
func (c *Conn) Start() {
	c.hookConnect()
	if c.idle != nil {
		c.idle.lastActive.Store(time.Now().UnixNano())
		c.mu.Lock()
		if !c.closed {
			c.idle.timer = time.AfterFunc(c.opts.IdleTimeout, c.idleCheck)
		}
		c.mu.Unlock()
	}
	if c.opts.KeepaliveInterval > 0 {
		c.mu.Lock()
		if !c.closed {
			c.kaOn = true
			// The first ping leaves at once, from the scheduler's goroutine:
			// not the caller's, which may be a reader whose stack should
			// stay small.
			c.pool.keepalive.schedule(c, 0)
		}
		c.mu.Unlock()
	}
}

// ID returns the connection id: a random UUID unless the transport set one.
func (c *Conn) ID() string { return c.id }

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
	head, req := c.reqHead, c.req
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
		c.req, c.reqHead = r, ""
	}
	return c.req
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

// Done is closed when the connection has closed, its handlers have returned
// and its struct routes' OnClose hooks have run.
func (c *Conn) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	sig := c.signalsLocked()
	if sig.done == nil {
		sig.done = make(chan struct{})
		if c.finished {
			close(sig.done) // asked for after the end
		}
	}
	return sig.done
}

// Err returns why the connection closed (matching ErrClosed), or nil while it
// is open.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		return nil
	}
	return c.closedErrLocked()
}

func (c *Conn) closedErrLocked() error {
	if c.closeErr == nil {
		return ErrClosed
	}
	return fmt.Errorf("%w: %w", ErrClosed, c.closeErr)
}

// ---------------------------------------------------------------------------
// Incoming messages

// HandleMessage processes one complete text message from the peer. The engine
// keeps no reference to msg after it returns. It does not block on the
// network: replies it produces itself are written asynchronously.
func (c *Conn) HandleMessage(msg []byte) {
	// The frame decoder is lenient inside values (it takes 01 as a number):
	// ids are checked strictly by parseID, params by whatever decodes them
	// (ping validates what it echoes), and events and raw results are
	// validated before anyone sees them.
	if !isObject(msg) {
		c.opts.Logger.Debug("wsrpc: dropped a message that is not a JSON object", "conn", c.id)
		return
	}
	tooDeep := exceedsDepth(msg, c.opts.MaxDepth)
	var f frame
	l := jlexer.Lexer{Data: msg}
	f.UnmarshalEasyJSON(&l)
	if err := l.Error(); err != nil {
		c.opts.Logger.Debug("wsrpc: dropped a malformed message", "conn", c.id, "err", err)
		return
	}
	if tooDeep {
		if key, fits, ok := parseID(f.ID); ok && f.Method != nil && !(fits && key == 0) {
			c.replyErrorAsync(append([]byte(nil), f.ID...), TypeTypeError,
				fmt.Sprintf("params nested deeper than %d levels (MaxDepth)", c.opts.MaxDepth))
		}
		c.opts.Logger.Debug("wsrpc: dropped a message nested too deep", "conn", c.id)
		return
	}
	if f.ID == nil || f.Method != nil {
		c.touch()
	}
	switch {
	case f.ID == nil:
		if c.opts.OnEvent != nil && json.Valid(msg) {
			c.onEvent(msg)
		}
	case f.Method != nil:
		c.handleCall(msg, &f)
	default:
		c.handleReply(&f)
	}
}

// exceedsDepth reports whether msg nests arrays and objects deeper than max
// (brackets inside strings do not count).
func exceedsDepth(msg []byte, max int) bool {
	// The depth never exceeds the number of '{' and '[' (in strings or
	// not), which bytes.Count finds far faster than the scan below: almost
	// every message is decided here.
	if bytes.Count(msg, []byte("{"))+bytes.Count(msg, []byte("[")) <= max {
		return false
	}
	depth, inString, escaped := 0, false, false
	for _, b := range msg {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
		case b == '"':
			inString = true
		case b == '{' || b == '[':
			depth++
			if depth > max {
				return true
			}
		case b == '}' || b == ']':
			depth--
		}
	}
	return false
}

// touch records activity for IdleTimeout.
func (c *Conn) touch() {
	if c.idle != nil {
		c.idle.lastActive.Store(time.Now().UnixNano())
	}
}

// idleCheck closes the connection when it has been idle for IdleTimeout,
// else checks again when it could next be.
func (c *Conn) idleCheck() {
	idle := time.Since(time.Unix(0, c.idle.lastActive.Load()))
	if rest := c.opts.IdleTimeout - idle; rest > 0 {
		c.mu.Lock()
		if !c.closed {
			c.idle.timer.Reset(rest)
		}
		c.mu.Unlock()
		return
	}
	c.closeWith(fmt.Errorf("idle for %s (IdleTimeout)", idle.Round(time.Millisecond)), closeGoingAway, "idle timeout")
}

func isObject(msg []byte) bool {
	for _, b := range msg {
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return true
		default:
			return false
		}
	}
	return false
}

// parseID reads a call id: a JSON integer (true counts as 1, as in Python).
// key is its value when it fits an int64; fits is false for larger integers,
// which are still valid ids (they are echoed verbatim).
func parseID(raw []byte) (key int64, fits, ok bool) {
	switch string(raw) {
	case "true":
		return 1, true, true
	case "false":
		return 0, true, true
	}
	if len(raw) == 0 {
		return 0, false, false
	}
	digits := raw
	if digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 1 && digits[0] == '0' {
		return 0, false, false // JSON has no leading zeros
	}
	for _, b := range digits {
		if b < '0' || b > '9' {
			return 0, false, false
		}
	}
	n, err := strconv.ParseInt(unsafe.String(&raw[0], len(raw)), 10, 64)
	if err != nil {
		// An integer beyond int64: valid, but it cannot be one of ours
		// and it cannot be zero.
		return 0, false, true
	}
	return n, true, true
}

// inflightSet maps the ids of a connection's incoming calls to their jobs.
// One call in flight, the common case, needs no map; an idle connection
// keeps none.
type inflightSet struct {
	oneKey int64
	one    *callJob
	more   map[int64]*callJob
}

func (s *inflightSet) get(key int64) *callJob {
	if s.one != nil && s.oneKey == key {
		return s.one
	}
	return s.more[key]
}

func (s *inflightSet) set(key int64, j *callJob) {
	switch {
	case s.one != nil && s.oneKey == key:
		s.one = j
	case s.one == nil && s.more[key] == nil:
		s.oneKey, s.one = key, j
	default:
		if s.more == nil {
			s.more = make(map[int64]*callJob)
		}
		s.more[key] = j
	}
}

func (s *inflightSet) del(key int64) {
	if s.one != nil && s.oneKey == key {
		s.one = nil
		return
	}
	delete(s.more, key)
	if len(s.more) == 0 {
		s.more = nil
	}
}

// callJob is one incoming call from arrival to reply. It is also the
// handler's context: the connection's context plus the job itself, so a
// call costs no context allocation.
type callJob struct {
	context.Context
	c      *Conn
	buf    []byte // owns the message the slices below point into
	id     []byte
	key    int64
	hasKey bool
	method string
	params []byte
	size   int64

	fr     *funcRoute
	inst   *instance
	member string

	started  bool // a goroutine runs it (guarded by c.mu)
	holding  bool // it holds inst (guarded by c.mu)
	wake     chan struct{}
	w        jwriter.Writer // encodes the reply
	inline   bool           // runs on the reader's goroutine (see Inline)
	nextSame *callJob       // next call with the same id
	lastSame *callJob       // tail of that chain (on the head only)
}

// Value returns the job for the engine's key, else the connection
// context's values.
func (j *callJob) Value(key any) any {
	if key == (jobCtxKey{}) {
		return j
	}
	return j.Context.Value(key)
}

// rebase returns the part of dst at the offset s has in src.
func rebase(s, src, dst []byte) []byte {
	if s == nil {
		return nil
	}
	if len(s) == 0 {
		return dst[:0:0]
	}
	off := uintptr(unsafe.Pointer(unsafe.SliceData(s))) - uintptr(unsafe.Pointer(unsafe.SliceData(src)))
	return dst[off : off+uintptr(len(s)) : off+uintptr(len(s))]
}

func (c *Conn) handleCall(msg []byte, f *frame) {
	key, fits, ok := parseID(f.ID)
	if !ok || (fits && key == 0) {
		c.opts.Logger.Debug("wsrpc: dropped a call whose id is not a non-zero integer", "conn", c.id, "id", string(f.ID))
		return
	}
	j := newJob(msg)
	buf := j.buf
	j.Context = connContext{c}
	j.c = c
	j.id = rebase(f.ID, msg, buf)
	j.key, j.hasKey = key, fits
	j.params = rebase(f.Params, msg, buf)
	j.size = callFootprint(buf)
	// The method name points into j.buf. Until the route is known (and its
	// stable name replaces it) the job must not go back to the pool.
	name, err := unquoteOwned(rebase(f.Method, msg, buf))
	if err != nil {
		// The reference fails with a TypeError too (it looks for a dot in
		// the name): a call with "method": null is answered, not dropped.
		c.replyErrorAsync(j.id, TypeTypeError, "method must be a string, not "+jsonKind(f.Method))
		return
	}
	j.method = name
	if c.opts.Hooks != nil && c.opts.Hooks.OnCallStart != nil {
		ci := CallInfo{Conn: c, Method: name, ID: j.id, Params: j.params}
		c.hookCallStart(connContext{c}, &ci)
	}

	fr, sr, member, found := c.reg.lookup(name)
	if !found {
		c.replyErrorAsync(j.id, TypeNotImplemented, `Callback function "`+name+`" not implemented`)
		return
	}
	j.fr, j.member = fr, member
	if fr != nil {
		j.method = fr.name
	} else {
		j.method = sr.fullName(member)
	}

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if sr != nil {
		// The instance is made (once per connection and name) even when the
		// member turns out not to exist, as in the reference; an instance
		// made from an earlier registration stays in use.
		j.inst = c.instanceLocked(sr)
		if _, e := j.inst.route.member(member); e != nil {
			c.mu.Unlock()
			c.replyErrorAsync(j.id, e.Type, e.Message)
			return
		}
	}
	if c.draining {
		c.mu.Unlock()
		c.replyErrorAsync(j.id, TypeRuntimeError, "the connection is shutting down and takes no new calls")
		return
	}
	c.takeInline = c.batch && j.runsInline()
	reason := c.admitLocked(j)
	inline := c.inlineJob
	c.takeInline, c.inlineJob = false, nil
	c.mu.Unlock()
	if reason != "" {
		c.replyErrorAsync(j.id, TypeRuntimeError, reason)
		return
	}
	if inline != nil {
		var start time.Time
		if c.opts.InlineBudget > 0 {
			start = time.Now()
		}
		if next := c.run(inline); next != nil {
			c.pool.start(next)
		}
		if c.opts.InlineBudget > 0 {
			c.checkInlineBudget(inline, start)
		}
		// An inline call is over when run returns (its handler may not keep
		// its context), so its job is reused.
		recycleJob(inline)
	}
}

// jobPool recycles the jobs of inline calls.
var jobPool = sync.Pool{New: func() any { return new(callJob) }}

// maxPooledJobBuf is the largest message buffer a pooled job keeps.
const maxPooledJobBuf = 4 << 10

// newJob returns a job owning a copy of msg.
func newJob(msg []byte) *callJob {
	j := jobPool.Get().(*callJob)
	buf := j.buf
	if cap(buf) < len(msg) {
		buf = make([]byte, len(msg))
	}
	buf = buf[:len(msg)]
	copy(buf, msg)
	j.buf = buf
	return j
}

func recycleJob(j *callJob) {
	buf := j.buf
	if cap(buf) > maxPooledJobBuf {
		buf = nil
	}
	*j = callJob{buf: buf[:0]}
	jobPool.Put(j)
}

// unquoteOwned is unquote for bytes that are never modified again: the
// string shares them.
func unquoteOwned(raw []byte) (string, error) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		inner := raw[1 : len(raw)-1]
		if len(inner) > 0 && simpleString(inner) {
			return unsafe.String(&inner[0], len(inner)), nil
		}
	}
	return unquote(raw)
}

func simpleString(b []byte) bool {
	for _, c := range b {
		if c == '\\' || c == '"' || c < 0x20 {
			return false
		}
	}
	return true
}

// unquote returns the string a raw JSON string holds.
func unquote(raw []byte) (string, error) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		if inner := raw[1 : len(raw)-1]; simpleString(inner) {
			return string(inner), nil
		}
	}
	l := jlexer.Lexer{Data: raw}
	s := l.String()
	l.Consumed()
	return s, l.Error()
}

type instance struct {
	route   *structRoute
	ptr     unsafe.Pointer // the *T, a new copy of the route's registered value
	next    *instance      // the connection's next instance
	initMu  sync.Mutex     // serializes Init of concurrent routes
	initRan atomic.Bool
	busy    bool     // a call holds the instance (guarded by Conn.mu)
	waiters *waiters // calls waiting for it; nil until one has (guarded by Conn.mu)
}

// waiters are the calls waiting for a struct instance, in arrival order.
// Most instances never have any, so the queue is made on first use.
type waiters struct{ jobs []*callJob }

func (inst *instance) waiting() int {
	if inst.waiters == nil {
		return 0
	}
	return len(inst.waiters.jobs)
}

func (inst *instance) wait(j *callJob) {
	if inst.waiters == nil {
		inst.waiters = new(waiters)
	}
	inst.waiters.jobs = append(inst.waiters.jobs, j)
}

// nextWaiter removes and returns the first waiting call (waiting() > 0).
func (inst *instance) nextWaiter() *callJob {
	w := inst.waiters
	j := w.jobs[0]
	w.jobs[0] = nil
	w.jobs = w.jobs[1:]
	return j
}

// val is the instance as a reflect.Value of the route's pointer type.
func (inst *instance) val() reflect.Value { return reflect.NewAt(inst.route.elem, inst.ptr) }

func (c *Conn) instanceLocked(sr *structRoute) *instance {
	last := &c.instances
	for inst := c.instances; inst != nil; inst = inst.next {
		if inst.route == sr {
			return inst
		}
		last = &inst.next
	}
	// Appended, so that OnClose hooks run in the order instances were made.
	inst := &instance{route: sr, ptr: sr.newInstance().UnsafePointer()}
	*last = inst
	return inst
}

// startLocked gives j a goroutine, or parks it on its struct instance until
// the calls before it are done with the instance.
func (c *Conn) startLocked(j *callJob) {
	if inst := j.inst; inst != nil && !inst.route.concurrent {
		if inst.busy {
			inst.wait(j)
			return
		}
		inst.busy = true
		j.holding = true
	}
	c.spawnLocked(j)
}

func (c *Conn) spawnLocked(j *callJob) {
	j.started = true
	c.handlers.Add(1)
	if c.takeInline && c.inlineJob == nil {
		// handleCall runs an inline route itself, on the reader.
		j.inline = true
		c.inlineJob = j
		return
	}
	if c.takeNext && c.nextJob == nil {
		// finish asked to keep the first call it starts: the worker that
		// just finished runs it without a hand-off.
		c.nextJob = j
		return
	}
	c.pool.start(j)
}

// releaseLocked hands j's instance to the next waiting call.
func (c *Conn) releaseLocked(j *callJob) {
	if !j.holding {
		return
	}
	j.holding = false
	inst := j.inst
	if inst.waiting() == 0 {
		inst.busy = false
		return
	}
	next := inst.nextWaiter()
	next.holding = true
	if next.started {
		next.wake <- struct{}{}
	} else {
		c.spawnLocked(next)
	}
}

// reacquire waits until j holds its instance again.
func (c *Conn) reacquire(j *callJob) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	inst := j.inst
	if !inst.busy {
		inst.busy = true
		j.holding = true
		c.mu.Unlock()
		return
	}
	if j.wake == nil {
		j.wake = make(chan struct{}, 1)
	}
	inst.wait(j)
	c.mu.Unlock()
	select {
	case <-j.wake:
	case <-connContext{c}.Done():
	}
}

// finish releases everything j held and starts the calls that waited for it.
//
// It returns one of the calls it started, for the calling worker to run
// next: calls queued behind a struct instance or the concurrency limit then
// run back to back on one goroutine.
func (c *Conn) finish(j *callJob) (next *callJob) {
	c.mu.Lock()
	c.takeNext = true
	c.releaseLocked(j)
	c.running--
	if c.waiting != nil { // nil once closed
		c.waiting.bytes -= j.size
	}
	if j.hasKey && c.inflight.get(j.key) == j {
		if next := j.nextSame; next != nil {
			next.lastSame = j.lastSame
			if next.lastSame == next {
				next.lastSame = nil
			}
			c.inflight.set(j.key, next)
			if c.waiting != nil { // nil once closed: next never runs
				c.waiting.jobs = append(c.waiting.jobs, next) // next was counted in waiting
			}
		} else {
			c.inflight.del(j.key)
		}
	}
	for w := c.waiting; !c.closed && int(c.running) < c.opts.MaxConcurrentRequests && w != nil && len(w.jobs) > 0; {
		next := w.jobs[0]
		w.jobs[0] = nil
		w.jobs = w.jobs[1:]
		w.calls-- // its bytes stay held while it runs
		c.running++
		c.startLocked(next)
	}
	c.releaseHeldLocked() // an idle connection holds no queue
	next = c.nextJob
	c.takeNext, c.nextJob = false, nil
	c.mu.Unlock()
	return next
}

// run executes one call on a worker goroutine and sends the reply. It
// returns the call the worker should run next, if any.
func (c *Conn) run(j *callJob) *callJob {
	defer c.handlers.Done()
	var ctx context.Context = j

	bp := getBuf()
	w := &j.w
	*w = jwriter.Writer{}
	w.Buffer.Buf = (*bp)[:0]
	if err := c.execute(ctx, j, w); err != nil {
		if c.opts.Hooks != nil && c.opts.Hooks.OnCallFail != nil {
			ci := CallInfo{Conn: c, Method: j.method, ID: j.id, Params: j.params}
			c.hookCallFail(ctx, &ci, err)
		}
		typ, msg := errorTypeMessage(err)
		*w = jwriter.Writer{}
		w.Buffer.Buf = (*bp)[:0]
		appendErrorReplyTo(w, j.id, typ, msg)
	} else if c.opts.Hooks != nil && c.opts.Hooks.OnCallSuccess != nil {
		reply, _ := w.BuildBytes()
		*w = jwriter.Writer{}
		w.Buffer.Buf = reply
		ci := CallInfo{Conn: c, Method: j.method, ID: j.id, Params: j.params}
		c.hookCallSuccess(ctx, &ci, resultOf(reply))
	}
	*bp, _ = w.BuildBytes()
	// When another call of this connection is about to run on this worker
	// (see finish), leave the reply queued: that call's reply, or the last of
	// the chain, carries it in the same write.
	c.mu.Lock()
	chained := j.holding && j.inst.waiting() > 0 && !j.inst.waiters.jobs[0].started ||
		c.waiting.queued() && int(c.running) <= c.opts.MaxConcurrentRequests
	c.mu.Unlock()
	if err := c.enqueue(outMsg{b: *bp, pool: bp}, sendNow, chained || j.inline); err != nil && !errors.Is(err, ErrClosed) {
		c.opts.Logger.Debug("wsrpc: reply not sent", "conn", c.id, "method", j.method, "err", err)
	}
	return c.finish(j)
}

// execute runs the handler of j (and a struct route's implicit Init) and
// writes the whole reply to w.
func (c *Conn) execute(ctx context.Context, j *callJob, w *jwriter.Writer) (err error) {
	defer func() {
		if p := recover(); p != nil {
			pe := recovered(strconv.Quote(j.method), p)
			pe.log(c)
			err = pe // the peer gets panicReply's words (errorTypeMessage)
		}
	}()
	var (
		m    *method
		recv reflect.Value
	)
	if j.fr != nil {
		m = j.fr.m
	} else {
		inst := j.inst
		recv = inst.val()
		mm, e := inst.route.member(j.member)
		if e != nil {
			return e
		}
		m = mm
		if init := inst.route.initMethod(); init != nil && !inst.initRan.Load() {
			if err := c.runInit(ctx, inst, init, j.member == ""); err != nil {
				return err
			}
		}
	}
	w.RawString(`{"id":`)
	w.Raw(j.id, nil)
	w.RawString(`,"result":`)
	if err := m.call(ctx, recv, j.params, w); err != nil {
		return err
	}
	w.RawByte('}')
	if w.Error != nil {
		return &Error{Type: TypeValueError, Message: "Can not serialize result: " + w.Error.Error()}
	}
	return nil
}

// bufPool recycles reply buffers: a reply is encoded into one, queued, and
// the buffer comes back once the transport wrote it.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// maxPooledBuf is the largest buffer bufPool keeps.
const maxPooledBuf = 64 << 10

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(bp *[]byte) {
	if cap(*bp) <= maxPooledBuf {
		*bp = (*bp)[:0]
		bufPool.Put(bp)
	}
}

// runInit runs a struct route's Init once per connection before its first
// member call. When the call is the bare route name itself, Init is the call,
// so only the flag is set.
func (c *Conn) runInit(ctx context.Context, inst *instance, init *method, explicit bool) error {
	inst.initMu.Lock()
	defer inst.initMu.Unlock()
	if inst.initRan.Load() {
		return nil
	}
	inst.initRan.Store(true)
	if explicit {
		return nil
	}
	// The usual shapes are called through an interface: reflect's Call
	// would allocate on every connection.
	switch x := inst.val().Interface().(type) {
	case interface{ Init(context.Context) }:
		x.Init(ctx)
		return nil
	case interface{ Init(context.Context) error }:
		return x.Init(ctx)
	}
	var discard jwriter.Writer
	return init.call(ctx, inst.val(), nil, &discard)
}

// resultOf returns the result member of an encoded success reply.
func resultOf(reply []byte) []byte {
	const prefix = `,"result":`
	for i := 0; i+len(prefix) <= len(reply); i++ {
		if string(reply[i:i+len(prefix)]) == prefix {
			return reply[i+len(prefix) : len(reply)-1]
		}
	}
	return nil
}

// errorTypeMessage maps a handler error to the wire's type and message.
func errorTypeMessage(err error) (string, string) {
	var e *Error
	var pe *panicError
	switch {
	case errors.As(err, &e):
		return e.Type, e.Message
	case errors.As(err, &pe):
		return TypeRuntimeError, panicReply(pe.what)
	case errors.Is(err, context.DeadlineExceeded):
		return TypeTimeoutError, ""
	case errors.Is(err, context.Canceled):
		return "CancelledError", ""
	}
	return TypeException, err.Error()
}

func appendErrorReply(dst, id []byte, typ, message string) []byte {
	var w jwriter.Writer
	w.Buffer.Buf = dst[:0]
	appendErrorReplyTo(&w, id, typ, message)
	out, _ := w.BuildBytes()
	return out
}

func appendErrorReplyTo(w *jwriter.Writer, id []byte, typ, message string) {
	w.RawString(`{"id":`)
	w.Raw(id, nil)
	w.RawString(`,"error":{"type":`)
	w.String(typ)
	w.RawString(`,"message":`)
	w.String(message)
	w.RawString(`}}`)
}

func (c *Conn) replyErrorAsync(id []byte, typ, message string) {
	_ = c.send(appendErrorReply(nil, id, typ, message), true)
}

// ---------------------------------------------------------------------------
// Outgoing calls

// Caller is what can make a call to the remote side: *Conn, and the client
// package's reconnecting *Client.
type Caller interface {
	Call(ctx context.Context, method string, params, result any) error
}

type pendingCall struct {
	done   chan struct{}
	target any
	err    error
	// onReply, when set, is called on the reader's goroutine instead of
	// decoding into target (used by keepalive).
	onReply func(result []byte, err error)
}

func (p *pendingCall) complete(result []byte, err error) {
	if p.onReply != nil {
		p.onReply(result, err)
		return
	}
	if err == nil && p.target != nil {
		err = decodeResult(result, p.target)
	}
	p.err = err
	close(p.done)
}

// Call calls method on the peer with params and decodes the result into
// result (a pointer; nil to discard it). params may be nil (no params), a
// struct or map (named params), a slice (positional params), or raw JSON
// (json.RawMessage, easyjson.RawMessage).
//
// It returns when the reply arrives, ctx ends (the call is forgotten; the
// peer is not told), or the connection closes (an error matching ErrClosed).
// An error reply from the peer is returned as an *Error.
//
// Inside a struct-route handler, the route instance is released while Call
// waits, so the peer may call into the same route meanwhile without a
// deadlock; fields may therefore change across a Call.
func (c *Conn) Call(ctx context.Context, method string, params, result any) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if c.opts.CallTimeout > 0 {
		if _, has := ctx.Deadline(); !has {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, c.opts.CallTimeout)
			defer cancel()
		}
	}
	p := &pendingCall{done: make(chan struct{}), target: result}
	// A call bounded by its context does not write on its own goroutine: a
	// peer that stops reading must not hold it past its bound (the write
	// itself stays bounded by the transport's write timeout).
	id, err := c.startCall(method, params, p, ctx.Done() != nil)
	if err != nil {
		return err
	}
	if j, _ := ctx.Value(jobCtxKey{}).(*callJob); j != nil && j.c == c {
		if j.inline {
			return ErrInlineCall
		}
		c.mu.Lock()
		held := j.holding
		c.releaseLocked(j)
		c.mu.Unlock()
		if held {
			defer c.reacquire(j)
		}
	}
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		c.mu.Lock()
		_, mine := c.pending[id]
		delete(c.pending, id)
		c.mu.Unlock()
		if !mine {
			// The reply (or the close) won the race and is completing p.
			<-p.done
			return p.err
		}
		return ctx.Err()
	}
}

// startCall registers p under a fresh id and sends the call; with async,
// the write happens on another goroutine.
func (c *Conn) startCall(method string, params any, p *pendingCall, async bool) (int64, error) {
	id := c.nextID.Add(2)
	var w jwriter.Writer
	w.RawString(`{"id":`)
	w.Int64(id)
	w.RawString(`,"method":`)
	w.String(method)
	if params != nil {
		w.RawString(`,"params":`)
		if err := appendJSON(&w, params); err != nil {
			return 0, fmt.Errorf("wsrpc: encode params of %q: %w", method, err)
		}
	}
	w.RawByte('}')
	msg, _ := w.BuildBytes()

	c.mu.Lock()
	if c.closed {
		err := c.closedErrLocked()
		c.mu.Unlock()
		return 0, err
	}
	if c.pending == nil {
		c.pending = make(map[int64]*pendingCall)
	}
	c.pending[id] = p
	c.mu.Unlock()
	if err := c.send(msg, async || p.onReply != nil); err != nil {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return 0, err
	}
	return id, nil
}

func (c *Conn) handleReply(f *frame) {
	key, fits, ok := parseID(f.ID)
	if !ok || !fits {
		c.opts.Logger.Debug("wsrpc: dropped a reply with an unusable id", "conn", c.id, "id", string(f.ID))
		return
	}
	c.mu.Lock()
	if c.kaWaiting && key == c.kaID {
		c.mu.Unlock()
		c.onPong(f.Error != nil)
		return
	}
	p := c.pending[key]
	delete(c.pending, key)
	if len(c.pending) == 0 {
		c.pending = nil // an idle connection keeps no map
	}
	c.mu.Unlock()
	if p == nil {
		c.opts.Logger.Debug("wsrpc: dropped a reply to no pending call", "conn", c.id, "id", key)
		return
	}
	if f.Error != nil {
		p.complete(nil, remoteError(f.Error))
		return
	}
	res := []byte(f.Result)
	if res == nil {
		res = nullJSON
	}
	p.complete(res, nil)
}

var nullJSON = []byte("null")

// remoteError turns the error member of a reply into an *Error: an object
// gives its type and message; any other value (the JS client's string
// "Route not found", say) becomes the message.
func remoteError(raw []byte) *Error {
	e := &Error{Raw: append(json.RawMessage(nil), raw...)}
	if raw[0] == '{' {
		var we wireError
		l := jlexer.Lexer{Data: raw}
		we.UnmarshalEasyJSON(&l)
		if l.Error() == nil {
			e.Type, e.Message = we.Type, we.Message
			return e
		}
	}
	if raw[0] == '"' {
		if s, err := unquote(raw); err == nil {
			e.Message = s
			return e
		}
	}
	e.Message = string(raw)
	return e
}

// appendJSON encodes v: raw JSON verbatim, easyjson marshalers directly,
// anything else with encoding/json.
func appendJSON(w *jwriter.Writer, v any) error {
	switch v := v.(type) {
	case json.RawMessage:
		if !json.Valid(v) {
			return errors.New("raw params are not valid JSON")
		}
		w.Raw(v, nil)
	case easyjson.RawMessage:
		if !json.Valid(v) {
			return errors.New("raw params are not valid JSON")
		}
		w.Raw(v, nil)
	case easyjson.Marshaler:
		v.MarshalEasyJSON(w)
		return w.Error
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		w.Raw(b, nil)
	}
	return nil
}

var errInvalidResult = errors.New("wsrpc: decode result: the peer sent a result that is not valid JSON")

// decodeResult decodes a reply's result into target. The bytes are copied
// first: they alias a read buffer that the transport reuses.
func decodeResult(data []byte, target any) error {
	switch t := target.(type) {
	case *json.RawMessage:
		if !json.Valid(data) {
			return errInvalidResult
		}
		*t = append((*t)[:0], data...)
		return nil
	case *easyjson.RawMessage:
		if !json.Valid(data) {
			return errInvalidResult
		}
		*t = append((*t)[:0], data...)
		return nil
	case easyjson.Unmarshaler:
		l := jlexer.Lexer{Data: append([]byte(nil), data...)}
		t.UnmarshalEasyJSON(&l)
		if err := l.Error(); err != nil {
			return fmt.Errorf("wsrpc: decode result: %w", err)
		}
		return nil
	}
	if err := json.Unmarshal(data, target); err != nil {
		return fmt.Errorf("wsrpc: decode result: %w", err)
	}
	return nil
}

// Emit sends an event: a message without "id", delivered to the peer's event
// listeners. event must encode to a JSON object without an "id" member.
func (c *Conn) Emit(ctx context.Context, event any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var w jwriter.Writer
	if err := appendJSON(&w, event); err != nil {
		return fmt.Errorf("wsrpc: encode event: %w", err)
	}
	msg, _ := w.BuildBytes()
	var f frame
	if !isObject(msg) {
		return errors.New("wsrpc: an event must be a JSON object")
	}
	l := jlexer.Lexer{Data: msg}
	f.UnmarshalEasyJSON(&l)
	if l.Error() != nil || f.ID != nil {
		return errors.New(`wsrpc: an event must be a JSON object without an "id" member`)
	}
	return c.send(msg, false)
}

// Call is the typed form of Conn.Call: it returns the result as an R.
//
//	diff, err := wsrpc.Call[int](ctx, conn, "subtract", map[string]int{"a": 1, "b": 9})
func Call[R any](ctx context.Context, c Caller, method string, params any) (R, error) {
	var r R
	err := c.Call(ctx, method, params, &r)
	return r, err
}

// Proxy returns a typed stub for one remote method: the Go form of the
// reference's proxy.kv.get(...).
//
//	var kvGet = wsrpc.Proxy[GetParams, string]("kv.get")
//	value, err := kvGet(ctx, conn, GetParams{Key: "foo"})
func Proxy[P, R any](method string) func(ctx context.Context, c Caller, params P) (R, error) {
	return func(ctx context.Context, c Caller, params P) (R, error) {
		return Call[R](ctx, c, method, params)
	}
}

// ---------------------------------------------------------------------------
// Keepalive

func (c *Conn) keepaliveTick() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if c.kaWaiting {
		c.mu.Unlock()
		c.closeWith(errors.New("keepalive: no pong within "+c.pongWait().String()), closeGoingAway, "keepalive timeout")
		return
	}
	// The ping is not a pending call: its reply is recognised by kaID
	// (handleReply), so a ping allocates nothing, which matters when a
	// server pings a million connections every interval.
	id := c.nextID.Add(2)
	c.kaWaiting = true
	c.kaID = id
	start := monotonic()
	c.kaStart = start
	c.pool.keepalive.schedule(c, c.pongWait())
	c.mu.Unlock()

	bp := getBuf()
	b := append((*bp)[:0], `{"id":`...)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, `,"method":"ping","params":{"seq":`...)
	b = strconv.AppendFloat(b, time.Duration(start).Seconds(), 'f', 6, 64) // seconds since processStart
	*bp = append(b, "}}"...)
	// keepaliveTick runs on a goroutine of its own: it may write.
	_ = c.enqueue(outMsg{b: *bp, pool: bp}, sendNow, false)
}

// processStart is the origin of the keepalive "seq" clock (the reference
// sends its monotonic clock in seconds).
var processStart = time.Now()

// pongWait is how long a ping may stay unanswered: the interval, or the
// accepted round trip when that is longer (a pong later than ClientTimeout
// closes the connection when it arrives anyway).
func (c *Conn) pongWait() time.Duration {
	return max(c.opts.KeepaliveInterval, c.opts.ClientTimeout)
}

// onPong checks the round trip of a keepalive ping. An error reply counts as
// a pong without the latency check (no busy loop, unlike the reference).
func (c *Conn) onPong(errorReply bool) {
	c.mu.Lock()
	if c.closed || !c.kaWaiting {
		c.mu.Unlock()
		return
	}
	c.kaWaiting = false
	rtt := time.Duration(monotonic() - c.kaStart)
	c.pongStats.Store(packPongStats(c.pongStats.Load()>>32+1, rtt)) // under mu: one writer
	c.pool.keepalive.schedule(c, c.opts.KeepaliveInterval)
	c.mu.Unlock()
	if !errorReply && rtt > c.opts.ClientTimeout {
		c.closeWith(fmt.Errorf("keepalive: pong took %s, more than ClientTimeout %s", rtt, c.opts.ClientTimeout), closeInternal, "keepalive: peer too slow")
	}
}

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
	v := c.pongStats.Load()
	return Stats{
		Pongs:          v >> 32,
		LastPingRTT:    time.Duration(uint32(v)) * time.Microsecond,
		QueuedBytes:    c.heldCallBytes(),
		SendQueueBytes: c.sendQueueBytes(),
	}
}

// ---------------------------------------------------------------------------
// Closing

// Close closes the connection with close code 1000. Pending outgoing calls
// fail with ErrClosed and running handlers see their context cancelled.
func (c *Conn) Close() error {
	c.closeWith(nil, closeNormal, "")
	return nil
}

// CloseWithError closes the connection with the given WebSocket close code
// and reason; cause (may be nil) is what Err and the OnClose hook report.
func (c *Conn) CloseWithError(code int, reason string, cause error) error {
	c.closeWith(cause, code, reason)
	return nil
}

// Flush writes the replies that inline routes produced during HandleMessage
// (see Inline and ConnConfig.BatchedReads). With wait, it writes on the
// calling goroutine; otherwise another goroutine writes and Flush returns at
// once, which is what an event loop wants.
func (c *Conn) Flush(wait bool) error {
	c.wmu.Lock()
	if c.flushing || c.queued() == 0 || c.wclosed {
		c.wmu.Unlock()
		return nil
	}
	c.flushing = true
	c.wmu.Unlock()
	if wait {
		return c.flush()
	}
	go c.flush()
	return nil
}

// Drain stops accepting new incoming calls (each gets a RuntimeError reply)
// and waits until every running and queued call has been answered and the
// replies written, or ctx ends. Outgoing calls keep working meanwhile. The
// server's Shutdown drains every connection before closing it.
func (c *Conn) Drain(ctx context.Context) error {
	c.mu.Lock()
	c.draining = true
	c.mu.Unlock()
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		c.mu.Lock()
		idle := c.running == 0 && !c.waiting.queued() || c.closed
		c.mu.Unlock()
		if idle {
			c.wmu.Lock()
			idle = !c.flushing && c.queued() == 0
			c.wmu.Unlock()
		}
		if idle {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// HandleClose tells the engine that the transport has ended (the peer closed,
// the stream broke, or the transport's reader failed). err is the cause; nil
// for a clean close.
func (c *Conn) HandleClose(err error) {
	c.closeWith(err, closeNormal, "")
}

func (c *Conn) closeWith(cause error, code int, reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.closeErr = cause
	pending := c.pending
	c.pending = nil
	c.waiting = nil
	instances := c.instances
	closedErr := c.closedErrLocked()
	if c.kaOn {
		c.kaOn = false
		c.pool.keepalive.cancel(c)
	}
	if c.idle != nil && c.idle.timer != nil {
		c.idle.timer.Stop()
	}
	c.mu.Unlock()

	// Stop writing before cancelling the handlers: a cancelled call gets no
	// reply, as in the reference.
	c.wmu.Lock()
	c.wclosed = true
	c.sb = nil
	c.wmu.Unlock()
	c.cancelContext()
	for _, p := range pending {
		p.complete(nil, closedErr)
	}
	c.hookClose(cause)
	if err := c.t.Close(code, reason); err != nil {
		c.opts.Logger.Debug("wsrpc: transport close", "conn", c.id, "err", err)
	}

	go func() {
		c.handlers.Wait()
		hookCtx := context.WithoutCancel(connContext{c})
		for inst := instances; inst != nil; inst = inst.next {
			if err := inst.route.closeInstance(hookCtx, inst.val()); err != nil {
				var pe *panicError
				if errors.As(err, &pe) {
					pe.log(c)
				} else {
					c.opts.Logger.Error("wsrpc: OnClose failed", "conn", c.id, "route", inst.route.name, "err", err)
				}
			}
		}
		c.mu.Lock()
		c.finished = true
		if c.sig != nil && c.sig.done != nil {
			close(c.sig.done)
		}
		c.mu.Unlock()
	}()
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}
