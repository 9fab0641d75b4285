package transport_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/internal/transport"
	"github.com/wsrpc/wsrpc-go/session"
)

// pair is a client-side Stream served into a Conn, and the raw server end
// of its loopback connection.
type pair struct {
	conn  *wsrpc.Conn
	peer  net.Conn
	stall *stallConn
}

// stallConn is a loopback connection whose writes, once stall is set, hang
// until their deadline, as writes to a peer that stopped reading do (a real
// full socket buffer on loopback takes megabytes and, with tiny buffers,
// stalls the other direction too).
type stallConn struct {
	*net.TCPConn
	stall    atomic.Bool
	mu       sync.Mutex
	deadline time.Time
}

func (c *stallConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.TCPConn.SetWriteDeadline(t)
}

func (c *stallConn) Write(b []byte) (int, error) {
	for c.stall.Load() {
		c.mu.Lock()
		d := c.deadline
		c.mu.Unlock()
		if !d.IsZero() && time.Now().After(d) {
			return 0, os.ErrDeadlineExceeded
		}
		time.Sleep(2 * time.Millisecond)
	}
	return c.TCPConn.Write(b)
}

func newPair(t *testing.T, writeTimeout time.Duration, opts *wsrpc.Options, stall bool) *pair {
	// The peer is a bare WebSocket that answers no wsrpc ping: keepalive off.
	if opts == nil {
		opts = &wsrpc.Options{}
	}
	opts.KeepaliveInterval = -1
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	peers := make(chan net.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			close(peers)
			return
		}
		if _, err := ws.Upgrade(nc); err != nil {
			_ = nc.Close()
			close(peers)
			return
		}
		peers <- nc
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, br, _, err := ws.Dial(ctx, "ws://"+ln.Addr().String()+"/")
	require.NoError(t, err)
	require.Nil(t, br)
	sc := &stallConn{TCPConn: nc.(*net.TCPConn)}
	sc.stall.Store(stall)
	peer, ok := <-peers
	require.True(t, ok, "the upgrade failed")
	t.Cleanup(func() { _ = peer.Close() })

	st := transport.NewWith(sc, nil, &session.Config{Role: wsrpc.RoleClient, MaxMessageSize: 1 << 20}, false, writeTimeout)
	pool := wsrpc.NewWorkerPool(0)
	conn := wsrpc.NewConn(st, wsrpc.ConnConfig{Role: wsrpc.RoleClient, Options: opts, Workers: pool, BatchedReads: true})
	conn.Start()
	go func() { _ = st.Serve(conn, pool) }()
	t.Cleanup(func() { _ = conn.Close() })
	return &pair{conn: conn, peer: peer, stall: sc}
}

// flood sends n pings, then an event.
func (p *pair) flood(t *testing.T, n int) {
	payload := make([]byte, 125)
	for i := range n {
		copy(payload, strconv.Itoa(i))
		if err := ws.WriteFrame(p.peer, ws.NewPingFrame(payload)); err != nil {
			t.Errorf("ping %d: %v", i, err)
			return
		}
	}
	if err := ws.WriteFrame(p.peer, ws.NewTextFrame([]byte(`{"event":"after the pings"}`))); err != nil {
		t.Errorf("event: %v", err)
	}
}

// A ping flood from a peer that does not read does not stall the reader:
// the event behind the pings arrives while the pongs cannot be written.
func TestPingFloodDoesNotStallReader(t *testing.T) {
	events := make(chan string, 1)
	p := newPair(t, 30*time.Second, &wsrpc.Options{OnEvent: func(c *wsrpc.Conn, ev json.RawMessage) {
		events <- string(ev)
	}}, true)
	go p.flood(t, 1000)
	select {
	case ev := <-events:
		require.JSONEq(t, `{"event":"after the pings"}`, ev)
	case <-time.After(10 * time.Second):
		t.Fatal("the event behind 1000 unanswerable pings did not arrive within 10s")
	}
	require.NoError(t, p.conn.Err(), "the pong write is still within its timeout")
}

// A pong that cannot be written within the write timeout closes the
// connection, with the cause.
func TestFailedPongClosesConnection(t *testing.T) {
	p := newPair(t, 300*time.Millisecond, nil, true)
	go p.flood(t, 10)
	select {
	case <-p.conn.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("the connection was not closed within 15s of a pong write timing out")
	}
	require.ErrorIs(t, p.conn.Err(), wsrpc.ErrClosed)
	require.ErrorContains(t, p.conn.Err(), "write pong")
}

// Pongs answer pings in order, and the latest ping is answered.
func TestPongsAnswerLatestPing(t *testing.T) {
	p := newPair(t, 5*time.Second, nil, false)
	const n = 300
	go func() {
		for i := range n {
			if ws.WriteFrame(p.peer, ws.NewPingFrame([]byte("p"+strconv.Itoa(i)))) != nil {
				return
			}
		}
	}()
	_ = p.peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	last := -1
	for last != n-1 {
		h, err := ws.ReadHeader(p.peer)
		require.NoError(t, err, "the pong of the last ping (got up to %d)", last)
		b := make([]byte, h.Length)
		_, err = io.ReadFull(p.peer, b)
		require.NoError(t, err)
		if h.OpCode != ws.OpPong {
			continue // the keepalive is off; nothing else is expected, but skip it
		}
		if h.Masked {
			ws.Cipher(b, h.Mask, 0)
		}
		var i int
		_, err = fmt.Sscanf(string(b), "p%d", &i)
		require.NoError(t, err, "pong payload %q", b)
		require.Greater(t, i, last, "pongs answer later pings than the pong before")
		last = i
	}
}
