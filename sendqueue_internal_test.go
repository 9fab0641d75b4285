package wsrpc

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Copies queued while a batch is being written do not overwrite the
// batch's copies: the arenas alternate (sendBufs).
func TestArenaCopiesSurviveAWriteInProgress(t *testing.T) {
	st := &stuckTransport{release: make(chan struct{})}
	c := NewConn(st, ConnConfig{Role: RoleServer, Registry: NewRegistry(), BatchedReads: true})
	t.Cleanup(func() { _ = c.Close() })
	first := strings.Repeat("a", 40)
	require.NoError(t, c.enqueueCopy([]byte(first), sendAsync, false))
	require.Eventually(t, func() bool { // the flush took the first batch and is stuck writing it
		c.out.mu.Lock()
		defer c.out.mu.Unlock()
		return c.flushing && c.queued() == 0
	}, 5*time.Second, time.Millisecond)
	later := []string{strings.Repeat("b", 40), strings.Repeat("c", 40)}
	for _, m := range later {
		require.NoError(t, c.enqueueCopy([]byte(m), sendNow, true)) // the flush in progress takes them
	}
	close(st.release)
	require.Eventually(t, func() bool { st.mu.Lock(); defer st.mu.Unlock(); return len(st.written) == 3 }, 5*time.Second, time.Millisecond)
	require.Equal(t, append([]string{first}, later...), st.written)
}

// What place copies is charged at least the memory it holds: an arena's
// capacity once, and a pooled buffer's capacity.
func TestArenaCopiesAreChargedWhatTheyHold(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sizes []int
	}{
		{"one small", []int{30}},
		{"a read's replies", []int{40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40}},
		{"past the arena", []int{1500, 1000, 100}},
		{"larger than an arena", []int{arenaSize + 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb := new(sendBufs)
			var charged, held int64
			for _, n := range tc.sizes {
				m := sb.place(make([]byte, n), DefaultMaxSendQueueBytes)
				require.Len(t, m.b, n)
				charged += m.footprint()
				if m.pool != nil {
					held += int64(cap(*m.pool))
				}
			}
			held += int64(cap(sb.arena))
			require.GreaterOrEqual(t, charged, held)
		})
	}
	t.Run("small MaxSendQueueBytes", func(t *testing.T) {
		sb := new(sendBufs)
		m := sb.place(make([]byte, 30), 1024)
		require.NotNil(t, m.pool, "an arena, charged its 1 KB and the overhead, does not fit a 1 KB limit: a pooled buffer holds the copy")
		require.LessOrEqual(t, m.footprint(), int64(1024))
	})
}
