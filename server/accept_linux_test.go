package server

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// acceptPending takes the connections waiting in a TCP listener's backlog
// itself (no net.Conn is made for them): each is then one of the pollers'
// connections, its upgrade request awaited, its socket set up as net's
// Accept sets one up. TestNetpollServesTheBacklog shows them served; this
// shows who accepted them, and how.
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
	var fds []int
	for _, p := range s.np.pollers {
		p.mu.Lock()
		for _, page := range p.slots {
			for _, pc := range page {
				if pc != nil {
					fds = append(fds, int(pc.fd))
				}
			}
		}
		p.mu.Unlock()
	}
	require.Len(t, fds, n)
	for _, fd := range fds {
		for _, opt := range []struct {
			name         string
			level, which int
			want         int
		}{
			{"TCP_NODELAY", unix.IPPROTO_TCP, unix.TCP_NODELAY, 1},
			{"SO_KEEPALIVE", unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
			{"TCP_KEEPIDLE", unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, tcpKeepAliveSeconds},
		} {
			v, err := unix.GetsockoptInt(fd, opt.level, opt.which)
			require.NoError(t, err, opt.name)
			require.Equal(t, opt.want, v, opt.name)
		}
	}
}
