package testkit

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wsrpc/wsrpc-go/rooms"
)

// Seen records what a rooms.Tracker hands the application of events
// {"n":N}: the N of each event in order, and each loss.
type Seen struct {
	wake chan struct{} // a value after each callback

	mu   sync.Mutex // protects ns and lost
	ns   []int
	lost []rooms.Position
}

// NewSeen returns an empty record.
func NewSeen() *Seen { return &Seen{wake: make(chan struct{}, 1)} }

// Options are tracker options that record into s.
func (s *Seen) Options() rooms.TrackerOptions {
	return rooms.TrackerOptions{
		OnEvent: func(_ string, _ rooms.Position, ev json.RawMessage) {
			var body struct{ N int }
			_ = json.Unmarshal(ev, &body)
			s.mu.Lock()
			s.ns = append(s.ns, body.N)
			s.mu.Unlock()
			s.poke()
		},
		OnLost: func(_ string, pos rooms.Position) {
			s.mu.Lock()
			s.lost = append(s.lost, pos)
			s.mu.Unlock()
			s.poke()
		},
	}
}

func (s *Seen) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Count returns how many events were handed on.
func (s *Seen) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ns)
}

// Snapshot returns copies of the events' N and the losses so far.
func (s *Seen) Snapshot() (ns []int, lost []rooms.Position) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.ns...), append([]rooms.Position(nil), s.lost...)
}

// WaitFor waits until cond holds of what was seen; it fails when no new
// event came for bound (a stall), not when a busy machine is slow.
func (s *Seen) WaitFor(tb testing.TB, what string, bound time.Duration, cond func(ns []int, lost []rooms.Position) bool) {
	tb.Helper()
	deadline := time.NewTimer(bound)
	defer deadline.Stop()
	last := -1
	for {
		s.mu.Lock()
		ok := cond(s.ns, s.lost)
		n := len(s.ns)
		s.mu.Unlock()
		if ok {
			return
		}
		if n > last { // progress: a busy machine is slow, not stuck
			last = n
			deadline.Reset(bound)
		}
		select {
		case <-s.wake:
		case <-time.After(10 * time.Millisecond):
		case <-deadline.C:
			tb.Fatalf("waiting for %s: no new event within %v (%d events seen)", what, bound, n)
		}
	}
}

// RequireOnceInOrder fails the test unless the events handed on are N =
// 1 to total, each once, in order, without a loss; cut says when the
// connection was broken, for the message.
func (s *Seen) RequireOnceInOrder(tb testing.TB, total int, cut string) {
	tb.Helper()
	ns, lost := s.Snapshot()
	require.Empty(tb, lost, "no loss (%s)", cut)
	require.Len(tb, ns, total, "every event once (%s)", cut)
	for i, n := range ns {
		if n != i+1 {
			tb.Fatalf("event %d is n=%d (%s)", i, n, cut)
		}
	}
}
