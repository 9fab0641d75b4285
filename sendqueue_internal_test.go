package wsrpc

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// gateTransport blocks its first write until open is closed, and records
// what each write carried once it goes on.
type gateTransport struct {
	entered chan struct{}
	open    chan struct{}
	once    sync.Once
	mu      sync.Mutex
	written []string
}

func (g *gateTransport) WriteMessages(msgs [][]byte) error {
	g.once.Do(func() {
		close(g.entered)
		<-g.open
	})
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, m := range msgs {
		g.written = append(g.written, string(m))
	}
	return nil
}

func (g *gateTransport) Close(code int, reason string) error { return nil }

// Copies queued while a batch is being written do not overwrite the
// batch's copies: the arenas alternate (sendBufs).
func TestArenaCopiesSurviveAWriteInProgress(t *testing.T) {
	g := &gateTransport{entered: make(chan struct{}), open: make(chan struct{})}
	c := NewConn(g, ConnConfig{Role: RoleServer, Registry: NewRegistry(), BatchedReads: true})
	t.Cleanup(func() { _ = c.Close() })
	first := strings.Repeat("a", 40)
	require.NoError(t, c.enqueueCopy([]byte(first), sendAsync, false))
	select {
	case <-g.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the first write did not start")
	}
	later := []string{strings.Repeat("b", 40), strings.Repeat("c", 40)}
	for _, m := range later {
		require.NoError(t, c.enqueueCopy([]byte(m), sendNow, true)) // the flush in progress takes them
	}
	close(g.open)
	require.Eventually(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return len(g.written) == 3 }, 5*time.Second, time.Millisecond)
	require.Equal(t, append([]string{first}, later...), g.written)
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
		require.NotNil(t, m.pool, "an arena charged 2 KB does not fit a 1 KB limit: a pooled buffer holds the copy")
		require.LessOrEqual(t, m.footprint(), int64(1024))
	})
}
