package wsrpc

import (
	"sync"
	"time"
)

// DefaultMaxIdleWorkers is how many parked handler goroutines a WorkerPool
// keeps for reuse.
const DefaultMaxIdleWorkers = 1024

// IdleWorkerTimeout is how long a parked worker waits for a call before it
// exits, so that a burst leaves no goroutines behind.
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

	mu      sync.Mutex
	idle    []*worker // parked workers, oldest first
	maxIdle int
	reaping bool
}

type worker struct {
	jobs   chan *callJob // nil job: exit
	parked time.Time
}

// NewWorkerPool returns a pool that keeps at most maxIdle parked goroutines
// (DefaultMaxIdleWorkers when maxIdle <= 0).
func NewWorkerPool(maxIdle int) *WorkerPool {
	if maxIdle <= 0 {
		maxIdle = DefaultMaxIdleWorkers
	}
	return &WorkerPool{maxIdle: maxIdle}
}

// start runs j on an idle worker, or on a new one.
func (p *WorkerPool) start(j *callJob) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		w.jobs <- j
		return
	}
	p.mu.Unlock()
	w := &worker{jobs: make(chan *callJob, 1)}
	go w.loop(p, j)
}

func (w *worker) loop(p *WorkerPool, j *callJob) {
	for {
		for j != nil {
			j = j.c.run(j)
		}
		p.mu.Lock()
		if len(p.idle) >= p.maxIdle {
			p.mu.Unlock()
			return
		}
		w.parked = time.Now()
		p.idle = append(p.idle, w)
		if !p.reaping {
			p.reaping = true
			go p.reap()
		}
		p.mu.Unlock()
		if j = <-w.jobs; j == nil {
			return
		}
	}
}

// reap ends workers parked for longer than IdleWorkerTimeout; it runs while
// any worker is parked.
func (p *WorkerPool) reap() {
	for {
		time.Sleep(IdleWorkerTimeout / 4)
		p.mu.Lock()
		n := 0
		for n < len(p.idle) && time.Since(p.idle[n].parked) > IdleWorkerTimeout {
			p.idle[n].jobs <- nil // buffered: never blocks
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
