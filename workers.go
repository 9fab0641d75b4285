package wsrpc

import (
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxIdleWorkers is how many parked handler goroutines a WorkerPool
// keeps for reuse.
const DefaultMaxIdleWorkers = 1024

// IdleWorkerTimeout is how long a parked worker waits for a call before it
// exits (up to a quarter more), so that a burst leaves no goroutines behind.
const IdleWorkerTimeout = 5 * time.Second

// WorkerPool runs handlers on reused goroutines. A goroutine that served a
// call keeps its grown stack, so the next call does not pay for growing a
// fresh one, and starting a call costs a channel send instead of a new
// goroutine. Blocking handlers are fine: when no worker is idle a new one
// starts, so one slow handler never delays another. Connections of one
// server share one pool (ConnConfig.Workers); the zero value is not usable,
// use NewWorkerPool.
type WorkerPool struct {
	// keepalive schedules the keepalive pings of the connections sharing
	// the pool on one timer.
	keepalive kaScheduler

	// lastShared is the connShared of the last connection made with the
	// pool (see shared).
	lastShared atomic.Pointer[connShared]

	mu      sync.Mutex // protects the following
	idle    []*worker  // parked workers, oldest first
	maxIdle int
	reaping bool
	// reapTicks counts reap's looks at the parked workers; a parked
	// worker keeps the count it parked at.
	reapTicks uint64
}

type worker struct {
	jobs   chan work // zero work: exit
	parked uint64    // the pool's reapTicks when it parked
}

// NewWorkerPool returns a pool that keeps at most maxIdle parked goroutines
// (DefaultMaxIdleWorkers when maxIdle <= 0).
func NewWorkerPool(maxIdle int) *WorkerPool {
	if maxIdle <= 0 {
		maxIdle = DefaultMaxIdleWorkers
	}
	return &WorkerPool{maxIdle: maxIdle}
}

// work is what a worker runs: a call, a Task, or the write of a
// connection's send queue.
type work struct {
	job   *callJob
	task  *Task
	flush *Conn
	fan   *flushBatch
}

// Task is a function for WorkerPool.Run. Make it once with NewTask and
// reuse it: Run then allocates nothing.
type Task struct {
	fn   func()
	done sync.WaitGroup // Run waits on it (16 bytes; a channel would be 96 more a connection)
	wait bool           // made by NewTask: Run waits for it
}

// NewTask returns a Task that runs fn.
func NewTask(fn func()) *Task { return &Task{fn: fn, wait: true} }

// Run runs t on one of the pool's goroutines and returns when it has
// returned. A goroutine-per-connection reader uses it for the work of each
// read (parsing, inline handlers, the write of their replies): that work
// grows the stack of a pooled worker instead of the reader's, whose stack
// then stays at its minimum while it waits for the network, which is what
// an idle connection costs. One Task must not be run twice at once.
func (p *WorkerPool) Run(t *Task) {
	t.done.Add(1)
	p.dispatch(work{task: t})
	t.done.Wait()
}

// Go runs fn on one of the pool's goroutines and returns at once. The
// netpoll engine hands it what must not run on a poller: user code at
// upgrade time (Authorize, hooks), and the rest of a read whose inline
// handlers ran past Options.InlineBudget.
func (p *WorkerPool) Go(fn func()) { p.dispatch(work{task: &Task{fn: fn}}) }

// flush writes c's send queue on an idle worker, or on a new one: as the
// writer of an async send (sendqueue.go) it costs a channel send, not a
// goroutine and the closure that starting one allocates.
func (p *WorkerPool) flush(c *Conn) { p.dispatch(work{flush: c}) }

// start runs j on an idle worker, or on a new one.
func (p *WorkerPool) start(j *callJob) { p.dispatch(work{job: j}) }

func (p *WorkerPool) dispatch(wk work) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		w.jobs <- wk
		return
	}
	p.mu.Unlock()
	w := &worker{jobs: make(chan work, 1)}
	go w.loop(p, wk)
}

func (w *worker) loop(p *WorkerPool, wk work) {
	for {
		if t := wk.task; t != nil {
			t.fn()
			if t.wait { // false for Go
				t.done.Done()
			}
		}
		if c := wk.flush; c != nil {
			_ = c.flush() // a failed write closes c
		}
		if b := wk.fan; b != nil {
			b.run()
		}
		for j := wk.job; j != nil; {
			next := j.c.run(j)
			if j.ofInlineRoute() {
				// Its handler (and its struct's Init) may not keep the
				// context, as in the read path: the job is reused.
				recycleJob(j)
			}
			j = next
		}
		p.mu.Lock()
		if len(p.idle) >= p.maxIdle {
			p.mu.Unlock()
			return
		}
		w.parked = p.reapTicks
		p.idle = append(p.idle, w)
		if !p.reaping {
			p.reaping = true
			go p.reap()
		}
		p.mu.Unlock()
		if wk = <-w.jobs; wk == (work{}) {
			return
		}
	}
}

// reapTicksPerTimeout is how often reap looks at the parked workers per
// IdleWorkerTimeout: a worker exits between 1 and 1.25 timeouts after it
// parked.
const reapTicksPerTimeout = 4

// reap ends workers parked for longer than IdleWorkerTimeout; it runs while
// any worker is parked.
func (p *WorkerPool) reap() {
	for {
		time.Sleep(IdleWorkerTimeout / reapTicksPerTimeout)
		p.mu.Lock()
		p.reapTicks++
		n := 0
		// Parked a whole timeout ago or more: ticks counted, not the
		// clock read, so that parking a worker costs no clock reading.
		for n < len(p.idle) && p.reapTicks-p.idle[n].parked > reapTicksPerTimeout {
			p.idle[n].jobs <- work{} // buffered: never blocks
			p.idle[n] = nil
			n++
		}
		p.idle = append(p.idle[:0], p.idle[n:]...)
		if len(p.idle) == 0 {
			p.reaping = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
}
