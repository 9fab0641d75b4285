package nats

import "sync"

// group runs the node's goroutines and lets stop wait for them. NATS may
// still deliver a message to a handler while the connection closes, so a
// handler's start of a goroutine can race with stop's wait: the group
// refuses new goroutines once closing has begun, under the same lock that
// counts them.
type group struct {
	mu      sync.Mutex // protects the following
	closing bool
	wg      sync.WaitGroup
}

// Go runs f on a goroutine of its own, unless the group is closing; it
// reports whether f will run.
func (g *group) Go(f func()) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return false
	}
	g.wg.Go(f)
	return true
}

// closeAndWait refuses new goroutines and waits for those running.
func (g *group) closeAndWait() {
	g.mu.Lock()
	g.closing = true
	g.mu.Unlock()
	g.wg.Wait()
}
