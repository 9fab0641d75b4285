package wsrpc

import "sync"

// DefaultMaxIdleWorkers is how many parked handler goroutines a WorkerPool
// keeps for reuse.
const DefaultMaxIdleWorkers = 1024

// WorkerPool runs handlers on reused goroutines. A goroutine that served a
// call keeps its grown stack, so the next call does not pay for growing a
// fresh one, and starting a call costs a channel send instead of a new
// goroutine. Blocking handlers are fine: when no worker is idle a new one
// starts, so one slow handler never delays another. Connections of one
// server share one pool (ConnConfig.Workers); the zero value is not usable,
// use NewWorkerPool.
type WorkerPool struct {
	mu      sync.Mutex
	idle    []*worker
	maxIdle int
}

type worker struct {
	jobs chan *callJob
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
		p.idle = append(p.idle, w)
		p.mu.Unlock()
		j = <-w.jobs
	}
}
