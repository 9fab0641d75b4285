// This file owns liveness: the keepalive pings and pongs (with their shared
// scheduler) and the IdleTimeout.

package wsrpc

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// kaScheduler runs the keepalive deadlines of many connections on one
// runtime timer, instead of a timer per connection: an idle connection then
// costs four words here rather than a timer object. Connections that share
// a delay wait in one FIFO queue; each joins its queue at now+delay, so
// every queue stays sorted by deadline and scheduling is O(1).
//
// The zero value is ready to use. A WorkerPool owns one, shared by the
// connections that share the pool (all of a server's).
type kaScheduler struct {
	mu     sync.Mutex
	queues []*kaQueue // one per distinct delay: a server has two
	timer  *time.Timer
	armed  int64 // the deadline the timer is set for; 0 when unset
}

// kaQueue holds the connections waiting for one delay, oldest first.
type kaQueue struct {
	delay      time.Duration
	head, tail *Conn
}

// kaSlack lets one timer firing serve every deadline within this much of
// it: keepalive does not need better precision, and with many connections
// it bounds the firings per second.
const kaSlack = 20 * time.Millisecond

// monotonic returns nanoseconds on the monotonic clock.
func monotonic() int64 { return int64(time.Since(processStart)) }

// schedule (re)arms c's keepalive to run c.keepaliveTick after d.
func (s *kaScheduler) schedule(c *Conn, d time.Duration) {
	s.mu.Lock()
	s.removeLocked(c)
	var q *kaQueue
	for _, x := range s.queues {
		if x.delay == d {
			q = x
			break
		}
	}
	if q == nil {
		q = &kaQueue{delay: d}
		s.queues = append(s.queues, q)
	}
	c.ka.due = monotonic() + int64(d)
	c.ka.queue, c.ka.prev, c.ka.next = q, q.tail, nil
	if q.tail != nil {
		q.tail.ka.next = c
	} else {
		q.head = c
	}
	q.tail = c
	// A timer armed within kaSlack after the deadline serves it: a burst
	// of connects (whose first pings are due at once) then shares firings
	// instead of re-arming the timer for each.
	if s.armed == 0 || c.ka.due+int64(kaSlack) < s.armed {
		s.armLocked(c.ka.due)
	}
	s.mu.Unlock()
}

// cancel removes c's pending keepalive, if any.
func (s *kaScheduler) cancel(c *Conn) {
	s.mu.Lock()
	s.removeLocked(c)
	s.mu.Unlock()
}

func (s *kaScheduler) removeLocked(c *Conn) {
	q := c.ka.queue
	if q == nil {
		return
	}
	if c.ka.prev != nil {
		c.ka.prev.ka.next = c.ka.next
	} else {
		q.head = c.ka.next
	}
	if c.ka.next != nil {
		c.ka.next.ka.prev = c.ka.prev
	} else {
		q.tail = c.ka.prev
	}
	c.ka.queue, c.ka.prev, c.ka.next = nil, nil, nil
}

func (s *kaScheduler) armLocked(due int64) {
	s.armed = due
	d := time.Duration(due - monotonic())
	if s.timer == nil {
		s.timer = time.AfterFunc(d, s.fire)
	} else {
		s.timer.Reset(d)
	}
}

// fire runs the keepalive of every connection due (each on its own
// goroutine, as a timer of its own would: a ping to a stalled peer must not
// delay the others) and re-arms the timer for the next deadline.
func (s *kaScheduler) fire() {
	s.mu.Lock()
	until := monotonic() + int64(kaSlack)
	n := 0 // counted first: due is made once, at its size
	for _, q := range s.queues {
		for c := q.head; c != nil && c.ka.due <= until; c = c.ka.next {
			n++
		}
	}
	due := make([]*Conn, 0, n)
	next := int64(0)
	for _, q := range s.queues {
		for q.head != nil && q.head.ka.due <= until {
			c := q.head
			s.removeLocked(c)
			due = append(due, c)
		}
		if q.head != nil && (next == 0 || q.head.ka.due < next) {
			next = q.head.ka.due
		}
	}
	s.armed = 0
	if next != 0 {
		s.armLocked(next)
	}
	s.mu.Unlock()
	runTicks(due, (*Conn).keepaliveTick)
}

// maxTickers bounds the goroutines that run one firing's keepalive ticks.
// A tick may write, and a write may wait for a client that does not read,
// so ticks do not all run on one goroutine; but the connections of a burst
// of connects fall due together, and a goroutine each would grow as many
// stacks at once.
const maxTickers = 32

// runTicks runs tick for each of due on at most maxTickers goroutines.
// The goroutines share one function value, made once per firing.
func runTicks(due []*Conn, tick func(*Conn)) {
	var next atomic.Int64
	run := func() {
		for {
			i := next.Add(1) - 1
			if i >= int64(len(due)) {
				return
			}
			tick(due[i])
		}
	}
	for range min(len(due), maxTickers) {
		go run()
	}
}

// idleState is the IdleTimeout bookkeeping of a connection.
type idleState struct {
	lastActive atomic.Int64 // unix nanoseconds of the last call or event
	timer      *time.Timer  // guarded by Conn.mu
}

// idleState is the connection's IdleTimeout state, or nil without one. It
// is in the signals record, which NewConn made and nothing replaces once
// there: no lock is needed.
func (c *Conn) idleState() *idleState {
	if c.opts.IdleTimeout <= 0 {
		return nil
	}
	return &c.life.sig.idle
}

// touch records activity for IdleTimeout.
func (c *Conn) touch() {
	if is := c.idleState(); is != nil {
		is.lastActive.Store(time.Now().UnixNano())
	}
}

// idleCheck closes the connection when it has been idle for IdleTimeout,
// else checks again when it could next be.
func (c *Conn) idleCheck() {
	is := c.idleState()
	idle := time.Since(time.Unix(0, is.lastActive.Load()))
	if rest := c.opts.IdleTimeout - idle; rest > 0 {
		c.mu.Lock()
		if !c.closed {
			is.timer.Reset(rest)
		}
		c.mu.Unlock()
		return
	}
	c.closeWith(fmt.Errorf("%w: idle for %s (IdleTimeout)", ErrIdleTimeout, idle.Round(time.Millisecond)), closeGoingAway, "idle timeout")
}

func (c *Conn) keepaliveTick() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if c.kaWaiting {
		c.mu.Unlock()
		c.closeWith(fmt.Errorf("%w: no pong within %s", ErrKeepaliveTimeout, c.pongWait()), closeGoingAway, "keepalive timeout")
		return
	}
	// The ping is not a pending call: its reply is recognised by ka.id
	// (handleReply), so a ping allocates nothing, which matters when a
	// server pings a million connections every interval.
	id := c.calls.nextID.Add(2)
	c.kaWaiting = true
	c.ka.id = id
	start := monotonic()
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
	// The ping left when its pong's wait was scheduled: due is what
	// keepaliveTick made it (only schedule writes due, always under mu).
	rtt := time.Duration(monotonic() - (c.ka.due - int64(c.pongWait())))
	c.ka.pongStats.Store(packPongStats(c.ka.pongStats.Load()>>32+1, rtt)) // under mu: one writer
	c.pool.keepalive.schedule(c, c.opts.KeepaliveInterval)
	c.mu.Unlock()
	if !errorReply && rtt > c.opts.ClientTimeout {
		c.closeWith(fmt.Errorf("%w: pong took %s, more than ClientTimeout %s", ErrKeepaliveTimeout, rtt, c.opts.ClientTimeout), closeInternal, "keepalive: peer too slow")
	}
}
