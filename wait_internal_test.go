package wsrpc

import (
	"sync"
	"testing"
	"time"
)

// waitTimeout bounds the waits of the internal tests (the external ones use
// internal/testserver, which this package cannot import).
const waitTimeout = 10 * time.Second

// waitDone waits for ch to be closed, failing the test after waitTimeout.
func waitDone(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitTimeout):
		t.Fatalf("waiting for %s: not done within %v", what, waitTimeout)
	}
}

// waitGroup waits for wg, failing the test after waitTimeout.
func waitGroup(t testing.TB, wg *sync.WaitGroup, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	waitDone(t, done, what)
}
