package testkit

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// CutProxy is a loopback TCP proxy in front of a server whose
// connections the test cuts abruptly: a reset, as when a link dies, not
// a WebSocket close.
type CutProxy struct {
	ln net.Listener

	mu     sync.Mutex // protects the following
	target string     // host:port connections go to
	refuse bool       // reset new connections at once
	conns  []net.Conn // both ends of every open connection
}

// NewCutProxy proxies to the host:port of the WebSocket URL target and
// returns the proxy and its URL; it stops when the test ends.
func NewCutProxy(t *testing.T, target string) (*CutProxy, string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &CutProxy{ln: ln}
	p.Retarget(target)
	go p.accept()
	t.Cleanup(func() {
		_ = ln.Close()
		p.Cut()
	})
	return p, "ws://" + ln.Addr().String() + "/ws/"
}

// Retarget sends new connections to the server of the URL target.
func (p *CutProxy) Retarget(target string) {
	hostport := strings.TrimPrefix(target, "ws://")
	hostport, _, _ = strings.Cut(hostport, "/")
	p.mu.Lock()
	p.target = hostport
	p.mu.Unlock()
}

// SetRefuse makes the proxy reset new connections (a server that cannot
// be reached) or accept them again.
func (p *CutProxy) SetRefuse(on bool) {
	p.mu.Lock()
	p.refuse = on
	p.mu.Unlock()
}

func (p *CutProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		target, refuse := p.target, p.refuse
		p.mu.Unlock()
		if refuse {
			reset(c)
			continue
		}
		s, err := net.Dial("tcp", target)
		if err != nil {
			reset(c)
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go pipe(c, s)
		go pipe(s, c)
	}
}

func pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	reset(dst)
}

// Cut resets every connection through the proxy, both ends.
func (p *CutProxy) Cut() {
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, c := range conns {
		reset(c)
	}
}

// reset closes c with a TCP reset (no FIN, what is unsent is dropped).
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
