package transport

import (
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/session"
)

// serveConns serves n loopback connections with Serve, each accepted socket
// passed through wrap (nil: as it is), and returns the peers' ends. When the
// test ends the peers close and the serving goroutines are waited for.
func serveConns(t *testing.T, n int, cfg *session.Config, wrap func(i int, c *net.TCPConn) net.Conn) []net.Conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	pool := wsrpc.NewWorkerPool(0)
	var wg sync.WaitGroup
	peers := make([]net.Conn, n)
	t.Cleanup(func() {
		for _, p := range peers {
			if p != nil {
				_ = p.Close()
			}
		}
		wg.Wait()
		_ = ln.Close()
	})
	for i := range n {
		peer, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		peers[i] = peer
		nc, err := ln.Accept()
		require.NoError(t, err)
		var conn net.Conn = nc
		if wrap != nil {
			conn = wrap(i, nc.(*net.TCPConn))
		}
		st := NewWith(conn, nil, cfg, false, 0)
		c := wsrpc.NewConn(st, wsrpc.ConnConfig{Role: wsrpc.RoleServer, Registry: wsrpc.NewRegistry(), Options: &wsrpc.Options{KeepaliveInterval: -1}, Workers: pool, BatchedReads: true})
		c.Start()
		wg.Add(1)
		go func() { defer wg.Done(); _ = st.Serve(c, pool) }()
	}
	return peers
}
