package wsrpc

import (
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
	c.kaDue = monotonic() + int64(d)
	c.kaQueue, c.kaPrev, c.kaNext = q, q.tail, nil
	if q.tail != nil {
		q.tail.kaNext = c
	} else {
		q.head = c
	}
	q.tail = c
	if s.armed == 0 || c.kaDue < s.armed {
		s.armLocked(c.kaDue)
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
	q := c.kaQueue
	if q == nil {
		return
	}
	if c.kaPrev != nil {
		c.kaPrev.kaNext = c.kaNext
	} else {
		q.head = c.kaNext
	}
	if c.kaNext != nil {
		c.kaNext.kaPrev = c.kaPrev
	} else {
		q.tail = c.kaPrev
	}
	c.kaQueue, c.kaPrev, c.kaNext = nil, nil, nil
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
	var due []*Conn
	next := int64(0)
	for _, q := range s.queues {
		for q.head != nil && q.head.kaDue <= until {
			c := q.head
			s.removeLocked(c)
			due = append(due, c)
		}
		if q.head != nil && (next == 0 || q.head.kaDue < next) {
			next = q.head.kaDue
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
func runTicks(due []*Conn, tick func(*Conn)) {
	var next atomic.Int64
	for range min(len(due), maxTickers) {
		go func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(due)) {
					return
				}
				tick(due[i])
			}
		}()
	}
}
