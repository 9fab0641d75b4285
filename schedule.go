// This file owns the scheduling of incoming calls: admission under the
// limits (MaxConcurrentRequests, MaxQueuedBytes), the calls in flight by id
// and their same-id chains, and the hand-off of a call to a worker.

package wsrpc

import (
	"fmt"
	"sync"
)

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

// startLocked gives j a goroutine, or parks it on its struct instance until
// the calls before it are done with the instance.
//
// With keep, a call it starts is not given a goroutine but returned: the
// caller runs it itself (see spawnLocked).
func (c *Conn) startLocked(j *callJob, keep bool) (kept *callJob) {
	if inst := j.inst; inst != nil && !inst.route.concurrent {
		if inst.busy {
			inst.wait(j)
			return nil
		}
		inst.busy = true
		j.holding = true
	}
	return c.spawnLocked(j, keep)
}

// spawnLocked starts j: on a worker of the pool, or, with keep, on the
// caller's goroutine, by returning j. Callers keep at most one call: the
// reader an inline call (handleCall runs it), a worker the first call that
// waited for the one it finished (finish returns it).
func (c *Conn) spawnLocked(j *callJob, keep bool) (kept *callJob) {
	j.started = true
	c.sched.started++
	if keep {
		return j
	}
	c.pool.start(j)
	return nil
}

// finish releases everything j held and starts the calls that waited for it.
//
// It returns one of the calls it started, for the calling worker to run
// next: calls queued behind a struct instance or the concurrency limit then
// run back to back on one goroutine.
func (c *Conn) finish(j *callJob) (next *callJob) {
	c.mu.Lock()
	next = c.releaseLocked(j, true)
	c.sched.running--
	if c.sched.waiting != nil && !j.lone { // nil once closed; a lone call was never in it
		c.sched.waiting.bytes -= j.size
	}
	if j.hasKey && !j.lone && c.sched.inflight.get(j.key) == j {
		if next := j.nextSame; next != nil {
			next.lastSame = j.lastSame
			if next.lastSame == next {
				next.lastSame = nil
			}
			c.sched.inflight.set(j.key, next)
			if c.sched.waiting != nil { // nil once closed: next never runs
				c.sched.waiting.jobs = append(c.sched.waiting.jobs, next) // next was counted in waiting
			}
		} else {
			c.sched.inflight.del(j.key)
		}
	}
	for w := c.sched.waiting; !c.closed && int(c.sched.running) < c.opts.MaxConcurrentRequests && w != nil && len(w.jobs) > 0; {
		waiter := w.jobs[0]
		w.jobs[0] = nil
		w.jobs = w.jobs[1:]
		w.calls-- // its bytes stay held while it runs
		c.sched.running++
		if kept := c.startLocked(waiter, next == nil); kept != nil {
			next = kept
		}
	}
	c.releaseHeldLocked() // an idle connection holds no queue
	if c.sched.started--; c.sched.started == 0 && c.life.sig != nil && c.life.sig.handlersDone != nil {
		close(c.life.sig.handlersDone) // the close waits for it (lifecycle.go)
		c.life.sig.handlersDone = nil
	}
	c.mu.Unlock()
	return next
}

// CallOverhead is what MaxQueuedBytes charges for each incoming call on top
// of the capacity of the buffer that holds its message: the call's state
// (its job, with the reply writer). A call is charged from the moment it is
// admitted until its handler has returned, whether it runs or waits.
const CallOverhead = 320

// waitQueue is the bookkeeping of the calls a connection holds: running, or
// admitted and waiting for a free slot under MaxConcurrentRequests (in jobs,
// in arrival order) or behind a running call with the same id (chained from
// it, counted here). A connection has one while it holds any call (c.sched.waiting
// is nil while it holds none, and once it is closed); they come from
// waitQueuePool, so a call on an idle connection allocates none.
type waitQueue struct {
	jobs  []*callJob
	calls int   // waiting calls, in jobs or chained
	bytes int64 // held by the running and waiting calls (callJob.size each)
}

var waitQueuePool = sync.Pool{New: func() any { return new(waitQueue) }}

// queued reports whether calls wait in jobs; false for nil.
func (w *waitQueue) queued() bool { return w != nil && len(w.jobs) > 0 }

// callFootprint is what a call whose message is held in buf is charged.
func callFootprint(buf []byte) int64 { return int64(cap(buf)) + CallOverhead }

// admitLocked starts j, queues it, or returns why it is refused. With keep,
// j is not given a goroutine when it starts at once but returned as kept,
// for the caller to run.
//
// Every admitted call counts against MaxQueuedBytes until it finishes; on a
// connection that holds no call, one call is always admitted (its message
// was already bounded by the message size limit).
func (c *Conn) admitLocked(j *callJob, keep bool) (reason string, kept *callJob) {
	w := c.sched.waiting
	fresh := w == nil
	if fresh && keep && c.sched.running == 0 {
		// A lone inline call, the common case: it runs now on the reader,
		// which admits nothing else until it returns, so it needs no queue
		// (and its bytes are what the message size limit let in), and no
		// place in inflight (no call can come to wait behind it).
		j.lone = true
		c.sched.running++
		return "", c.startLocked(j, keep)
	}
	if fresh {
		w = waitQueuePool.Get().(*waitQueue)
	}
	full := int(c.sched.running) >= c.opts.MaxConcurrentRequests
	wait := full || (j.hasKey && c.sched.inflight.get(j.key) != nil)
	if !fresh && j.size > c.opts.MaxQueuedBytes-w.bytes || wait && w.calls >= c.opts.MaxQueuedRequests {
		reason = fmt.Sprintf("too many requests on this connection: %d running and %d waiting, holding %d bytes (limits MaxConcurrentRequests=%d, MaxQueuedRequests=%d, MaxQueuedBytes=%d); retry later",
			c.sched.running, w.calls, w.bytes, c.opts.MaxConcurrentRequests, c.opts.MaxQueuedRequests, c.opts.MaxQueuedBytes)
		if fresh {
			waitQueuePool.Put(w)
		}
		return reason, nil
	}
	c.sched.waiting = w
	w.bytes += j.size
	if wait {
		w.calls++
		if j.hasKey {
			if head := c.sched.inflight.get(j.key); head != nil {
				// Calls with the same id run one after another (docs/protocol.md §3).
				if head.lastSame == nil {
					head.nextSame = j
				} else {
					head.lastSame.nextSame = j
				}
				head.lastSame = j
				return "", nil
			}
			c.sched.inflight.set(j.key, j)
		}
		w.jobs = append(w.jobs, j)
		return "", nil
	}
	if j.hasKey {
		c.sched.inflight.set(j.key, j)
	}
	c.sched.running++
	return "", c.startLocked(j, keep)
}

// releaseHeldLocked gives back the connection's queue once it holds no call
// (finish calls it after j's bytes were released and the waiting calls it
// could start were started).
func (c *Conn) releaseHeldLocked() {
	w := c.sched.waiting
	if w == nil {
		return
	}
	if len(w.jobs) == 0 {
		w.jobs = nil
	}
	if w.calls == 0 && c.sched.running == 0 {
		c.sched.waiting = nil
		*w = waitQueue{}
		waitQueuePool.Put(w)
	}
}

// heldCallBytes is what the connection's incoming calls hold, as
// MaxQueuedBytes counts it.
func (c *Conn) heldCallBytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sched.waiting == nil {
		return 0
	}
	return c.sched.waiting.bytes
}
