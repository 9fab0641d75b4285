package client_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/server"
)

// testCtx is a context that ends with the test, bounded in any case.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testRoutes are the server's routes in these tests.
func testRoutes(t *testing.T) *wsrpc.Registry {
	reg := wsrpc.NewRegistry()
	require.NoError(t, reg.Add("add", func(ctx context.Context, p struct{ A, B int }) int { return p.A + p.B }))
	require.NoError(t, reg.Add("emit", func(ctx context.Context, p struct{ N int }) error {
		c := wsrpc.ConnFromContext(ctx)
		for i := range p.N {
			if err := c.Emit(ctx, map[string]int{"n": i}); err != nil {
				return err
			}
		}
		return nil
	}))
	return reg
}

// restartable is a wsrpc server on a fixed loopback address that a test
// stops and starts again.
type restartable struct {
	t    *testing.T
	reg  *wsrpc.Registry
	addr string

	mu     sync.Mutex
	srv    *server.Server
	served chan struct{}
}

func newRestartable(t *testing.T, reg *wsrpc.Registry) *restartable {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r := &restartable{t: t, reg: reg, addr: ln.Addr().String()}
	r.serve(ln)
	t.Cleanup(r.stop)
	return r
}

func (r *restartable) url() string { return "ws://" + r.addr + "/" }

func (r *restartable) serve(ln net.Listener) {
	srv := server.New(r.reg, &server.Options{Engine: server.EngineGoroutine})
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(ln) }()
	r.mu.Lock()
	r.srv, r.served = srv, served
	r.mu.Unlock()
}

// start listens on the same address again.
func (r *restartable) start() {
	var ln net.Listener
	require.Eventually(r.t, func() bool {
		var err error
		ln, err = net.Listen("tcp", r.addr)
		return err == nil
	}, 5*time.Second, 10*time.Millisecond, "listen on %s again", r.addr)
	r.serve(ln)
}

// stop closes the server and its connections.
func (r *restartable) stop() {
	r.mu.Lock()
	srv, served := r.srv, r.served
	r.srv = nil
	r.mu.Unlock()
	if srv == nil {
		return
	}
	_ = srv.Close()
	select {
	case <-served:
	case <-time.After(5 * time.Second):
		r.t.Error("the server's Serve did not return within 5s of Close")
	}
}

// rawPeer accepts TCP connections, upgrades them and hands each to handle
// (which owns it). It counts the upgrades.
type rawPeer struct {
	ln       net.Listener
	upgrades atomic.Int64
}

func newRawPeer(t *testing.T, handle func(nc net.Conn)) *rawPeer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &rawPeer{ln: ln}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			if _, err := ws.Upgrade(nc); err != nil {
				_ = nc.Close()
				continue
			}
			p.upgrades.Add(1)
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); handle(nc) }()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, nc := range conns {
			_ = nc.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return p
}

func (p *rawPeer) url() string { return "ws://" + p.ln.Addr().String() + "/" }

// setReadBuffer shrinks the kernel's receive buffer of nc, so that a peer
// that does not read fills up soon.
func setReadBuffer(nc net.Conn, n int) {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(n)
	}
}

// isRefused reports whether err is a refused TCP connection.
func isRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

// within runs f and fails the test when it does not return within d.
func within[T any](t *testing.T, d time.Duration, what string, f func() T) T {
	t.Helper()
	ch := make(chan T, 1)
	go func() { ch <- f() }()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("%s did not return within %s", what, d)
		panic("unreachable")
	}
}

// stateLog records the state changes of a client.
type stateLog struct {
	mu  sync.Mutex
	all []client.StateChange
}

func (l *stateLog) record(ch client.StateChange) {
	l.mu.Lock()
	l.all = append(l.all, ch)
	l.mu.Unlock()
}

func (l *stateLog) snapshot() []client.StateChange {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]client.StateChange(nil), l.all...)
}

// count is how many changes to s were recorded.
func (l *stateLog) count(s client.State) int {
	n := 0
	for _, ch := range l.snapshot() {
		if ch.State == s {
			n++
		}
	}
	return n
}

// String lists the changes, for failure messages.
func (l *stateLog) String() string {
	var b strings.Builder
	for _, ch := range l.snapshot() {
		fmt.Fprintf(&b, "%s(attempt %d, wait %s, err %v) ", ch.State, ch.Attempt, ch.Wait, ch.Err)
	}
	return b.String()
}
