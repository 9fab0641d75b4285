package wsrpc

import "fmt"

// waitQueue holds the calls of a connection that were admitted but wait:
// for a free slot under MaxConcurrentRequests (in jobs, in arrival order), or
// behind a running call with the same id (chained from it, counted here).
type waitQueue struct {
	jobs  []*callJob
	calls int   // waiting calls, in jobs or chained
	bytes int64 // their message sizes
}

// queued reports whether calls wait in jobs; false for nil.
func (w *waitQueue) queued() bool { return w != nil && len(w.jobs) > 0 }

// admitLocked starts j, queues it, or returns why it is refused.
func (c *Conn) admitLocked(j *callJob) string {
	full := int(c.running) >= c.opts.MaxConcurrentRequests
	if full || (j.hasKey && c.inflight.get(j.key) != nil) {
		w := c.waiting
		if w == nil {
			w = &waitQueue{}
		}
		if w.calls >= c.opts.MaxQueuedRequests || w.bytes+j.size > c.opts.MaxQueuedBytes {
			return fmt.Sprintf("too many requests on this connection: %d running and %d waiting (limits MaxConcurrentRequests=%d, MaxQueuedRequests=%d, MaxQueuedBytes=%d); retry later",
				c.running, w.calls, c.opts.MaxConcurrentRequests, c.opts.MaxQueuedRequests, c.opts.MaxQueuedBytes)
		}
		c.waiting = w
		w.calls++
		w.bytes += j.size
		if j.hasKey {
			if head := c.inflight.get(j.key); head != nil {
				// Calls with the same id run one after another (PROTOCOL §3.3).
				if head.lastSame == nil {
					head.nextSame = j
				} else {
					head.lastSame.nextSame = j
				}
				head.lastSame = j
				return ""
			}
			c.inflight.set(j.key, j)
		}
		w.jobs = append(w.jobs, j)
		return ""
	}
	if j.hasKey {
		c.inflight.set(j.key, j)
	}
	c.running++
	c.startLocked(j)
	return ""
}
