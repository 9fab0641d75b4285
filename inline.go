package wsrpc

import (
	"sync/atomic"
	"time"
)

// Inline routes run in the connection's read path (see Inline): on the
// server's netpoll engine that is a poller, shared by many connections. A
// route that turns out slow there is demoted for good, so that it can
// block a poller only a bounded number of times; the netpoll engine also
// hands the rest of a read that ran past the budget to a worker (see
// Options.InlineBudget).

// inlineStrikes is how many timed calls in a row of an inline route must
// run past InlineBudget to demote it: one slow call may be the scheduler's
// doing (a descheduled thread, a GC pause), two in a row are the route's.
const inlineStrikes = 2

// A connection times about one inline call in 8 against InlineBudget, and
// every call after one that ran past the budget (so that a route slow on
// every call is demoted by its second call, as when every call is timed):
// timing costs two reads of the clock, a few percent of a fast inline call.
// Which calls are timed follows a Weyl sequence, inlineTick advancing by
// inlineStep (2^16 over the golden ratio) from 0 and a call timed when it
// is below inlineTimed: unlike one call in every 8, no repeating pattern
// of calls (get, set, get, set) can keep a route's calls from being timed.
// A slow route among others is demoted within a few dozen of its calls
// (TestInlineBudgetSampling).
const (
	inlineStep  = 0x9E37
	inlineTimed = 1 << 16 / 8
)

// inlineState is whether a route runs inline, and its calls in a row that
// ran past the budget.
type inlineState struct {
	on   atomic.Bool
	slow atomic.Int32
}

// observe records a call of the route that took took, and demotes the
// route after inlineStrikes slow calls in a row; true when this call
// demoted it. A fast call only reads the shared counter.
func (s *inlineState) observe(took, budget time.Duration) bool {
	if took <= budget {
		if s.slow.Load() != 0 {
			s.slow.Store(0)
		}
		return false
	}
	return s.slow.Add(1) >= inlineStrikes && s.on.Swap(false)
}

// runsInline reports whether j's route may run in the read path: it is
// marked inline and was not demoted, and a struct route has run its Init
// (Init is user code of unknown cost: it runs on a worker).
func (j *callJob) runsInline() bool {
	if j.fr != nil {
		return j.fr.inline.on.Load()
	}
	inst := j.inst
	return inst != nil && inst.route.inline.on.Load() && (inst.route.initMethod() == nil || inst.initRan.Load())
}

// ofInlineRoute reports whether j's route is marked inline, wherever j ran:
// such a call is over when run returns (see Inline), so its job can be
// reused even when it ran on a worker (its struct's Init, a demoted read).
func (j *callJob) ofInlineRoute() bool {
	if j.fr != nil {
		return j.fr.inline.on.Load()
	}
	return j.inst != nil && j.inst.route.inline.on.Load()
}

// monoBase anchors monoNow.
var monoBase = time.Now()

// monoNow is the time since monoBase: time.Since of a time that carries a
// monotonic reading reads only the monotonic clock, about half what
// time.Now costs, and an inline call reads it twice.
func monoNow() time.Duration { return time.Since(monoBase) }

// timesInlineCall reports whether the inline call about to run is to be
// timed against InlineBudget (see inlineStep), and counts it. Only the
// read path calls it.
func (c *Conn) timesInlineCall() bool {
	t := c.sched.inlineTick
	c.sched.inlineTick = t + inlineStep
	return t < inlineTimed
}

// checkInlineBudget records how long the inline call j, started at start,
// took, and logs a warning when that demoted its route (whose later calls,
// on every connection, then run on workers). A call past the budget makes
// the connection time its next inline call too. Call it before j is
// recycled, on the read path.
func (c *Conn) checkInlineBudget(j *callJob, start time.Duration) {
	took := monoNow() - start
	if took > c.opts.InlineBudget {
		c.sched.inlineTick = 0
	}
	st, name := (*inlineState)(nil), j.method
	if j.fr != nil {
		st = &j.fr.inline
	} else if j.inst != nil {
		st, name = &j.inst.route.inline, j.inst.route.name
	}
	if st != nil && st.observe(took, c.opts.InlineBudget) {
		c.opts.Logger.Warn("wsrpc: an inline route ran longer than InlineBudget twice in a row; its calls now run on workers",
			"route", name, "took", took, "budget", c.opts.InlineBudget, "conn", c.logID())
	}
}
