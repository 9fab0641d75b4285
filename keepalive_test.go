package wsrpc

import (
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// queued lists the connections waiting in s, queue by queue.
func (s *kaScheduler) queued() map[time.Duration][]*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[time.Duration][]*Conn{}
	for _, q := range s.queues {
		for c := q.head; c != nil; c = c.ka.next {
			out[q.delay] = append(out[q.delay], c)
		}
	}
	return out
}

func TestKeepaliveSchedulerQueues(t *testing.T) {
	var s kaScheduler
	a, b, c := &Conn{closed: true}, &Conn{closed: true}, &Conn{closed: true} // ticks do nothing
	s.schedule(a, time.Hour)
	s.schedule(b, time.Hour)
	s.schedule(c, 2*time.Hour)
	require.Equal(t, map[time.Duration][]*Conn{time.Hour: {a, b}, 2 * time.Hour: {c}}, s.queued())

	// Rescheduling moves a connection to the back of its new queue.
	s.schedule(a, time.Hour)
	require.Equal(t, []*Conn{b, a}, s.queued()[time.Hour])
	s.schedule(b, 2*time.Hour)
	require.Equal(t, map[time.Duration][]*Conn{time.Hour: {a}, 2 * time.Hour: {c, b}}, s.queued())

	// Cancelled connections leave no trace; cancelling twice is harmless.
	for _, x := range []*Conn{a, b, c, c} {
		s.cancel(x)
	}
	require.Empty(t, s.queued())
	require.Nil(t, a.ka.queue)
}

func TestKeepaliveSchedulerFiresDueOnly(t *testing.T) {
	var s kaScheduler
	soon, later := &Conn{closed: true}, &Conn{closed: true}
	s.schedule(later, time.Hour)
	s.schedule(soon, 10*time.Millisecond)
	require.Eventually(t, func() bool { return len(s.queued()[10*time.Millisecond]) == 0 }, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, []*Conn{later}, s.queued()[time.Hour], "the later deadline still waits")
	s.mu.Lock()
	armed := s.armed
	s.mu.Unlock()
	require.Equal(t, later.ka.due, armed, "the timer is re-armed for the next deadline")
	s.cancel(later)
}

func TestPackPongStats(t *testing.T) {
	tests := []struct {
		pongs   uint64
		rtt     time.Duration
		wantRTT time.Duration
	}{
		{1, 1500 * time.Microsecond, 1500 * time.Microsecond},
		{7, 999 * time.Nanosecond, 0},                               // below the resolution
		{1 << 31, 3 * time.Hour, math.MaxUint32 * time.Microsecond}, // saturates at ~71 min
		{(1 << 32) + 5, time.Millisecond, time.Millisecond},         // the count wraps
		{2, -time.Second, 0},
	}
	for _, tt := range tests {
		c := &Conn{}
		c.ka.pongStats.Store(packPongStats(tt.pongs, tt.rtt))
		st := c.Stats()
		require.Equal(t, tt.pongs%(1<<32), st.Pongs)
		require.Equal(t, tt.wantRTT, st.LastPingRTT)
	}
}

func TestRunTicksRunsEachOnceOnFewGoroutines(t *testing.T) {
	for _, n := range []int{1, maxTickers - 1, maxTickers, 5 * maxTickers} {
		due := make([]*Conn, n)
		for i := range due {
			due[i] = &Conn{}
		}
		var mu sync.Mutex
		ticks := map[*Conn]int{}
		var running, most atomic.Int32
		var wg sync.WaitGroup
		wg.Add(n)
		runTicks(due, func(c *Conn) {
			defer wg.Done()
			now := running.Add(1)
			defer running.Add(-1)
			for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
			}
			time.Sleep(time.Millisecond) // let the goroutines overlap
			mu.Lock()
			ticks[c]++
			mu.Unlock()
		})
		waitGroup(t, &wg, "the ticks")
		require.Len(t, ticks, n)
		for _, k := range ticks {
			require.Equal(t, 1, k)
		}
		require.LessOrEqual(t, int(most.Load()), maxTickers)
	}
}
