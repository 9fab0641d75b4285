package wsrpc

import "time"

// Inline routes run in the connection's read path (see Inline): on the
// server's netpoll engine that is a poller, shared by many connections. A
// route that turns out slow there is demoted for good, so that it blocks
// its poller once at most; the netpoll engine also hands the rest of a read
// that ran past the budget to a worker (see Options.InlineBudget).

// runsInline reports whether j's route may run in the read path: it is
// marked inline and was not demoted, and a struct route has run its Init
// (Init is user code of unknown cost: it runs on a worker).
func (j *callJob) runsInline() bool {
	if j.fr != nil {
		return j.fr.inline.Load()
	}
	inst := j.inst
	return inst != nil && inst.route.inline.Load() && (inst.route.initMethod() == nil || inst.initRan.Load())
}

// checkInlineBudget demotes the route of the inline call j, started at
// start, when it ran longer than InlineBudget: the route's later calls, on
// every connection, run on workers. Call it before j is recycled.
func (c *Conn) checkInlineBudget(j *callJob, start time.Time) {
	took := time.Since(start)
	if took <= c.opts.InlineBudget {
		return
	}
	name := j.method
	demoted := false
	if j.fr != nil {
		demoted = j.fr.inline.Swap(false)
	} else if j.inst != nil {
		demoted = j.inst.route.inline.Swap(false)
		name = j.inst.route.name
	}
	if demoted {
		c.opts.Logger.Warn("wsrpc: an inline route ran longer than InlineBudget; its calls now run on workers",
			"route", name, "took", took, "budget", c.opts.InlineBudget, "conn", c.id)
	}
}
