package testserver

import (
	"sync"
	"testing"
	"time"
)

// WaitTimeout bounds every wait of the suites' helpers: long enough for a
// loaded 2-core machine under -race, short enough that a hang fails the test
// with a message instead of the whole run at -timeout.
const WaitTimeout = 10 * time.Second

// Recv returns the next value from ch, failing the test (saying what it
// waited for) when none comes within WaitTimeout or ch is closed.
func Recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(WaitTimeout)
	defer timer.Stop()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatalf("waiting for %s: the channel was closed", what)
		}
		return v
	case <-timer.C:
		t.Fatalf("waiting for %s: nothing came within %v", what, WaitTimeout)
	}
	panic("unreachable")
}

// Closed waits until ch is closed (a Done channel), failing the test after
// WaitTimeout.
func Closed[T any](t testing.TB, ch <-chan T, what string) {
	t.Helper()
	timer := time.NewTimer(WaitTimeout)
	defer timer.Stop()
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timer.C:
			t.Fatalf("waiting for %s: not done within %v", what, WaitTimeout)
		}
	}
}

// Wait waits for wg, failing the test after WaitTimeout.
func Wait(t testing.TB, wg *sync.WaitGroup, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	Closed(t, done, what)
}
