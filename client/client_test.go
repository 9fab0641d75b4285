package client_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/server"
)

type addParams struct{ A, B int }

func add(ctx context.Context, c wsrpc.Caller, a, b int) (int, error) {
	return wsrpc.Call[int](ctx, c, "add", addParams{a, b})
}

// registered makes a call, which the server answers only once it has
// registered the connection: server.Close, right after the upgrade, could
// miss it.
func registered(t *testing.T, c *client.Client) {
	t.Helper()
	_, err := add(testCtx(t), c, 0, 0)
	require.NoError(t, err)
}

// A reconnecting client without a Logger survives failed attempts, goes
// through the states in order, and works again once the server is back.
func TestReconnectWithoutLogger(t *testing.T) {
	srv := newRestartable(t, testRoutes(t))
	var log stateLog
	c, err := client.Dial(testCtx(t), srv.url(), nil, &client.Options{
		Reconnect: true, ReconnectMinWait: 10 * time.Millisecond, ReconnectMaxWait: 50 * time.Millisecond,
		OnStateChange: log.record,
	})
	require.NoError(t, err)
	defer c.Close()
	require.Equal(t, client.StateConnected, c.State())

	registered(t, c) // else Close may miss the connection
	srv.stop()
	// At least two failed attempts: the loop logs each one.
	require.Eventually(t, func() bool {
		n := 0
		for _, ch := range log.snapshot() {
			if ch.State == client.StateReconnecting && ch.Err != nil {
				n++
			}
		}
		return n >= 2
	}, 10*time.Second, 5*time.Millisecond, "states: %v", &log)
	srv.start()
	sum := within(t, 10*time.Second, "a call after the restart", func() error {
		n, err := add(testCtx(t), c, 1, 2)
		if err == nil && n != 3 {
			t.Errorf("add(1, 2) = %d", n)
		}
		return err
	})
	require.NoError(t, sum)

	all := log.snapshot()
	require.Equal(t, client.StateConnected, all[0].State)
	require.Equal(t, client.StateDisconnected, all[1].State)
	require.ErrorIs(t, all[1].Err, wsrpc.ErrClosed, "the disconnect names its cause")
	require.Equal(t, client.StateReconnecting, all[2].State)
	require.Equal(t, 1, all[2].Attempt)
	require.Equal(t, client.StateConnected, all[len(all)-1].State)

	require.NoError(t, c.Close())
	within(t, 5*time.Second, "Done after Close", func() struct{} { <-c.Done(); return struct{}{} })
	require.Equal(t, client.StateClosed, c.State())
}

// Calls made while the client reconnects wait for the new connection
// rather than failing at once.
func TestCallWaitsForReconnect(t *testing.T) {
	srv := newRestartable(t, testRoutes(t))
	c, err := client.Dial(testCtx(t), srv.url(), nil, &client.Options{
		Reconnect: true, ReconnectMinWait: 10 * time.Millisecond, ReconnectMaxWait: 50 * time.Millisecond,
	})
	require.NoError(t, err)
	defer c.Close()

	registered(t, c) // else Close may miss the connection
	srv.stop()
	require.Eventually(t, func() bool { return c.Conn() == nil }, 5*time.Second, time.Millisecond)
	const calls = 8
	errs := make(chan error, calls)
	for range calls {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			n, err := add(ctx, c, 2, 3)
			if err == nil && n != 5 {
				t.Errorf("add(2, 3) = %d", n)
			}
			errs <- err
		}()
	}
	time.Sleep(100 * time.Millisecond) // the calls are waiting
	srv.start()
	for range calls {
		select {
		case err := <-errs:
			require.NoError(t, err, "a call made while reconnecting waits for the new connection")
		case <-time.After(15 * time.Second):
			t.Fatal("a call made while reconnecting did not return within 15s")
		}
	}
}

// CallTimeout bounds the wait for a reconnect, and the error says both
// that the time ran out and why the connection attempts failed.
func TestCallTimeoutBoundsReconnectWait(t *testing.T) {
	srv := newRestartable(t, testRoutes(t))
	c, err := client.Dial(testCtx(t), srv.url(), nil, &client.Options{
		Options:   wsrpc.Options{CallTimeout: 300 * time.Millisecond},
		Reconnect: true, ReconnectMinWait: 10 * time.Millisecond, ReconnectMaxWait: 50 * time.Millisecond,
	})
	require.NoError(t, err)
	defer c.Close()

	registered(t, c) // else Close may miss the connection
	srv.stop()
	require.Eventually(t, func() bool { return c.Conn() == nil }, 5*time.Second, time.Millisecond)
	time.Sleep(100 * time.Millisecond) // let an attempt fail
	err = within(t, 5*time.Second, "a call with CallTimeout 300ms while reconnecting", func() error {
		_, err := add(context.Background(), c, 1, 1)
		return err
	})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.True(t, isRefused(err), "the error carries the last attempt's failure: %v", err)
}

// A call's write honours its context: a server that stops reading does
// not hold a 500 ms call for the 10 s write timeout.
func TestCallWriteHonoursContext(t *testing.T) {
	stop := make(chan struct{})
	peer := newRawPeer(t, func(nc net.Conn) {
		setReadBuffer(nc, 4096)
		<-stop // never reads
	})
	t.Cleanup(func() { close(stop) })
	c, err := client.Dial(testCtx(t), peer.url(), nil, &client.Options{Options: wsrpc.Options{KeepaliveInterval: -1}})
	require.NoError(t, err)
	defer c.Close()

	big := json.RawMessage(`"` + strings.Repeat("a", 12<<20) + `"`)
	err = within(t, 4*time.Second, "a 500ms call to a server that does not read", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		return c.Call(ctx, "add", []json.RawMessage{big}, nil)
	})
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// A server that upgrades and then never answers is noticed by keepalive:
// the call in flight fails with ErrClosed and the client reconnects.
func TestSilentServerIsNoticed(t *testing.T) {
	peer := newRawPeer(t, func(nc net.Conn) { _, _ = io.Copy(io.Discard, nc) })
	c, err := client.Dial(testCtx(t), peer.url(), nil, &client.Options{
		Options:   wsrpc.Options{KeepaliveInterval: 200 * time.Millisecond, ClientTimeout: 200 * time.Millisecond},
		Reconnect: true, ReconnectMinWait: 10 * time.Millisecond, ReconnectMaxWait: 50 * time.Millisecond,
	})
	require.NoError(t, err)
	defer c.Close()
	err = within(t, 10*time.Second, "a call without deadline to a silent server", func() error {
		_, err := add(context.Background(), c, 1, 1)
		return err
	})
	require.ErrorIs(t, err, wsrpc.ErrClosed)
	require.Eventually(t, func() bool { return peer.upgrades.Load() >= 2 }, 10*time.Second, 5*time.Millisecond,
		"the client reconnects after keepalive closed the silent connection")
}

// With default options the client pings the server (keepalive is on by
// default), so a silent server is noticed without any setting.
func TestKeepaliveOnByDefault(t *testing.T) {
	pings := make(chan struct{}, 1)
	srv := server.New(testRoutes(t), &server.Options{Options: wsrpc.Options{
		KeepaliveInterval: -1,
		Hooks: &wsrpc.Hooks{OnCallStart: func(ctx context.Context, ci *wsrpc.CallInfo) {
			if ci.Method == "ping" {
				select {
				case pings <- struct{}{}:
				default:
				}
			}
		}},
	}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	c, err := client.Dial(testCtx(t), "ws://"+ln.Addr().String()+"/", nil, nil)
	require.NoError(t, err)
	defer c.Close()
	select {
	case <-pings:
	case <-time.After(10 * time.Second):
		t.Fatal("a client with default options sent no keepalive ping within 10s")
	}
	require.Positive(t, within(t, 10*time.Second, "Stats", func() uint64 {
		for c.Conn().Stats().Pongs == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		return c.Conn().Stats().Pongs
	}))
}

// Against a server that closes every connection right after the upgrade,
// the backoff keeps growing: few attempts in a bounded window, with rising
// attempt numbers.
func TestBackoffGrowsAgainstServerThatClosesAtOnce(t *testing.T) {
	peer := newRawPeer(t, func(nc net.Conn) { _ = nc.Close() })
	var log stateLog
	c, err := client.Dial(testCtx(t), peer.url(), nil, &client.Options{
		Options:   wsrpc.Options{KeepaliveInterval: -1},
		Reconnect: true, ReconnectMinWait: 20 * time.Millisecond, ReconnectMaxWait: 5 * time.Second,
		OnStateChange: log.record,
	})
	require.NoError(t, err)
	time.Sleep(1500 * time.Millisecond)
	n := peer.upgrades.Load()
	require.NoError(t, c.Close())
	// Waits of at least 10, 20, 40, 80, 160, 320, 640 ms: at most 8
	// upgrades in 1.5 s. Without growth (20 ms at most each) there are ~70.
	require.LessOrEqual(t, n, int64(12), "upgrades within 1.5s")
	maxAttempt := 0
	for _, ch := range log.snapshot() {
		if ch.State == client.StateReconnecting {
			require.Greater(t, ch.Attempt, maxAttempt, "attempt numbers grow across short-lived connections")
			maxAttempt = ch.Attempt
		}
	}
	require.GreaterOrEqual(t, maxAttempt, 3)
}

// RetryFirstDial keeps dialling until the server is up; without it Dial
// fails at once; with a context that ends, Dial gives up with both causes.
func TestRetryFirstDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	url := "ws://" + addr + "/"

	_, err = client.Dial(testCtx(t), url, nil, &client.Options{Reconnect: true})
	require.True(t, isRefused(err), "without RetryFirstDial: %v", err)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = client.Dial(ctx, url, nil, &client.Options{RetryFirstDial: true, ReconnectMinWait: 10 * time.Millisecond})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.True(t, isRefused(err), "the error carries the last attempt's failure: %v", err)

	var log stateLog
	type result struct {
		c   *client.Client
		err error
	}
	res := make(chan result, 1)
	go func() {
		c, err := client.Dial(testCtx(t), url, nil, &client.Options{
			RetryFirstDial: true, ReconnectMinWait: 10 * time.Millisecond, ReconnectMaxWait: 50 * time.Millisecond,
			OnStateChange: log.record,
		})
		res <- result{c, err}
	}()
	require.Eventually(t, func() bool { return log.count(client.StateReconnecting) >= 3 }, 10*time.Second, 5*time.Millisecond)
	srv := &restartable{t: t, reg: testRoutes(t), addr: addr}
	srv.start()
	t.Cleanup(srv.stop)
	var r result
	select {
	case r = <-res:
	case <-time.After(10 * time.Second):
		t.Fatal("Dial with RetryFirstDial did not connect within 10s of the server starting")
	}
	require.NoError(t, r.err)
	defer r.c.Close()
	n, err := add(testCtx(t), r.c, 4, 5)
	require.NoError(t, err)
	require.Equal(t, 9, n)
}

// A slow OnEvent does not hold up the replies that arrive after its event.
func TestSlowOnEventDoesNotDelayReplies(t *testing.T) {
	srv := newRestartable(t, testRoutes(t))
	release := make(chan struct{})
	var got atomic.Int64
	c, err := client.Dial(testCtx(t), srv.url(), nil, &client.Options{Options: wsrpc.Options{
		OnEvent: func(c *wsrpc.Conn, ev json.RawMessage) { <-release; got.Add(1) },
	}})
	require.NoError(t, err)
	defer c.Close()
	defer close(release)
	err = within(t, 5*time.Second, "a call whose reply follows an event that OnEvent is still handling", func() error {
		return c.Call(testCtx(t), "emit", struct{ N int }{2}, nil)
	})
	require.NoError(t, err)
	require.Zero(t, got.Load())
}

// Events that pile up behind a stuck OnEvent are bounded: past
// MaxQueuedBytes the connection closes with ErrEventQueueFull.
func TestEventQueueIsBounded(t *testing.T) {
	srv := newRestartable(t, testRoutes(t))
	release := make(chan struct{})
	var log stateLog
	c, err := client.Dial(testCtx(t), srv.url(), nil, &client.Options{
		Options: wsrpc.Options{
			MaxQueuedBytes: 1024,
			OnEvent:        func(c *wsrpc.Conn, ev json.RawMessage) { <-release },
		},
		OnStateChange: log.record,
	})
	require.NoError(t, err)
	defer c.Close()
	defer close(release)
	_ = c.Call(testCtx(t), "emit", struct{ N int }{500}, nil) // ~4.5 KB of events
	within(t, 10*time.Second, "Done after the event queue overflowed", func() struct{} { <-c.Done(); return struct{}{} })
	var cause error
	for _, ch := range log.snapshot() {
		if ch.State == client.StateDisconnected {
			cause = ch.Err
		}
	}
	require.ErrorIs(t, cause, client.ErrEventQueueFull)
}
