package wsrpc

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type nopTransport struct{}

func (nopTransport) WriteMessages([][]byte) error { return nil }
func (nopTransport) Close(int, string) error      { return nil }

// Done asked for the first time after the connection ended and cleaned up
// is closed at once (it used to deadlock on the connection's mutex).
func TestDoneAfterTheEnd(t *testing.T) {
	c := NewConn(nopTransport{}, ConnConfig{})
	c.Start()
	c.HandleClose(nil)
	require.Eventually(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.finished
	}, 5*time.Second, time.Millisecond)
	done := make(chan struct{})
	go func() { <-c.Done(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Done after the end blocked")
	}
}

func TestConnsOfOneConfigShareItsState(t *testing.T) {
	pool := NewWorkerPool(0)
	reg := NewRegistry()
	opts := (&Options{}).withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := ConnConfig{Registry: reg, Options: opts, Workers: pool, Context: ctx}
	a, b := NewConn(nopTransport{}, cfg), NewConn(nopTransport{}, cfg)
	require.Same(t, a.connShared, b.connShared, "one server's connections share one connShared")

	other := cfg
	other.Context = context.WithValue(ctx, connCtxKey{}, 1)
	c := NewConn(nopTransport{}, other)
	require.NotSame(t, a.connShared, c.connShared, "another parent context is not shared")
	require.Same(t, other.Context, c.parent)
	require.Same(t, pool, c.pool)
	require.Same(t, reg, c.reg)
}

func TestInstancesAreMadeOnceAndKeptInOrder(t *testing.T) {
	var closed atomic.Int32
	r := NewRegistry()
	r.MustAdd("a", &closer{closed: &closed})
	r.MustAdd("b", &closer{closed: &closed})
	_, a, _, _ := r.lookup("a")
	_, b, _, _ := r.lookup("b")
	c := NewConn(nopTransport{}, ConnConfig{Registry: r})
	c.mu.Lock()
	ia, ib := c.instanceLocked(a), c.instanceLocked(b)
	require.Same(t, ia, c.instanceLocked(a), "one instance per route and connection")
	require.Same(t, ib, c.instanceLocked(b))
	c.mu.Unlock()
	require.Same(t, ia, c.instances, "in the order they were made (OnClose runs in it)")
	require.Same(t, ib, c.instances.next)
	require.Nil(t, ib.next)
	require.NotEqual(t, ia.ptr, ib.ptr)

	c.Start()
	c.HandleClose(nil)
	waitDone(t, c.Done(), "the connection to close")
	require.Equal(t, int32(2), closed.Load(), "each instance's OnClose ran")
}
