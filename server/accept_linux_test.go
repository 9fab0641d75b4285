package server

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// acceptPending takes the connections waiting in a TCP listener's backlog
// itself (no net.Conn is made for them): each is then one of the pollers'
// connections, its upgrade request awaited. TestNetpollServesTheBacklog
// shows them served; this shows who accepted them.
func TestAcceptPendingTakesTheBacklog(t *testing.T) {
	s := New(nil, &Options{Engine: EngineNetpoll})
	t.Cleanup(func() { _ = s.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	const n = 8
	for range n {
		nc, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		t.Cleanup(func() { _ = nc.Close() })
	}
	raw := s.rawListener(ln)
	require.NotNil(t, raw, "a TCP listener served by the netpoll engine")
	held := func() (live, handshakes int) {
		for _, p := range s.np.pollers {
			p.mu.Lock()
			live += p.used - len(p.free)
			handshakes += len(p.handshakes)
			p.mu.Unlock()
		}
		return live, handshakes
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.acceptPending(raw) // returns once the backlog is empty
		if live, _ := held(); live == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond) // a connection the kernel has not queued yet
	}
	live, handshakes := held()
	require.Equal(t, n, live, "every connection of the backlog is the pollers'")
	require.Equal(t, n, handshakes, "each awaits its upgrade request")
}
