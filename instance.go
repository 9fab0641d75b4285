// This file owns the per-connection struct-route instances: made lazily,
// Init run once, one call at a time (unless the route is concurrent), and
// OnClose on close (see lifecycle.go).

package wsrpc

import (
	"context"
	"reflect"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/mailru/easyjson/jwriter"
)

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
func (inst *instance) val() reflect.Value { return inst.receiver().value() }

// receiver is the instance as its methods' calls take it.
func (inst *instance) receiver() receiver { return receiver{inst.route.elem, inst.ptr} }

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

// releaseLocked hands j's instance to the next waiting call. With keep, a
// call it starts is returned for the caller to run (see spawnLocked).
func (c *Conn) releaseLocked(j *callJob, keep bool) (kept *callJob) {
	if !j.holding {
		return nil
	}
	j.holding = false
	inst := j.inst
	if inst.waiting() == 0 {
		inst.busy = false
		return nil
	}
	next := inst.nextWaiter()
	next.holding = true
	if next.started {
		next.wake <- struct{}{}
		return nil
	}
	return c.spawnLocked(next, keep)
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
	return init.call(ctx, inst.receiver(), nil, &discard)
}
