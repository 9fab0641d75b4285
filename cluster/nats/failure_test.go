package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"

	"github.com/wsrpc/wsrpc-go/internal/testserver"
)

// natsProcess is a NATS server that a test stops and starts again on the
// same port.
type natsProcess struct {
	t    testing.TB
	port int
	s    *natsserver.Server
}

func startNATSProcess(t testing.TB) *natsProcess {
	p := &natsProcess{t: t, port: -1}
	p.start()
	p.port = p.s.Addr().(*net.TCPAddr).Port
	t.Cleanup(p.stop)
	return p
}

func (p *natsProcess) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", p.port) }

func (p *natsProcess) start() {
	s, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: p.port, NoLog: true, NoSigs: true})
	require.NoError(p.t, err)
	go s.Start()
	require.True(p.t, s.ReadyForConnections(testBound), "NATS server did not start")
	p.s = s
}

func (p *natsProcess) stop() {
	if p.s != nil {
		p.s.Shutdown()
		p.s.WaitForShutdown()
		p.s = nil
	}
}

// NATS killed under call and event load, then restarted on its port:
// calls, Emit and Broadcast fail with ErrClusterUnavailable within the
// bound, never as ErrClientNotFound; once NATS is back calls work within
// seconds, and every event Emit acknowledged reached every client.
func TestNATSRestartUnderLoad(t *testing.T) { testserver.ForEachEngine(t, testNATSRestartUnderLoad) }

func testNATSRestartUnderLoad(t *testing.T) {
	const bound = time.Second // UnavailableTimeout
	nats := startNATSProcess(t)
	adjust := func(o *Options) { o.UnavailableTimeout = bound }
	a := startNode(t, nats.url(), "a", adjust)
	b := startNode(t, nats.url(), "b", adjust)
	ca := dial(t, a, "on-a", nil)
	cb := dial(t, b, "on-b", nil)
	sees(t, []*testNode{a, b}, map[string]string{"on-a": "a", "on-b": "b"})
	eventually(t, func() bool { return len(a.Nodes()) == 2 && len(b.Nodes()) == 2 }, "the nodes know each other")

	var (
		ok, unavailable atomic.Int64
		wrong           atomic.Value
		slowest         atomic.Int64
		phase, phaseAt  atomic.Int64 // 1 stopping, 2 stopped, 3 restarted
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	check := func(what string, err error, took time.Duration) {
		switch {
		case err == nil:
			ok.Add(1)
		case errors.Is(err, ErrClusterUnavailable):
			unavailable.Add(1)
			if int64(took) > slowest.Load() {
				slowest.Store(int64(took))
			}
			time.Sleep(5 * time.Millisecond)
		default:
			wrong.Store(fmt.Sprintf("%s (phase %d, %v ago): %v", what, phase.Load(), time.Since(time.Unix(0, phaseAt.Load())), err))
		}
	}
	for w := range 4 {
		from, to := []*testNode{a, b}[w%2], []string{"on-b", "on-a"}[w%2]
		loop(&wg, stop, func(int) {
			ctx, cancel := context.WithTimeout(context.Background(), testBound)
			start := time.Now()
			err := from.Call(ctx, to, "echo", w, nil)
			cancel()
			check("call to "+to, err, time.Since(start))
		})
	}
	evs := emitLoad(&wg, stop, func(ctx context.Context, ev json.RawMessage) error { return a.Emit(ctx, ev) },
		func(err error, took time.Duration) { check("emit", err, took) })
	eventually(t, func() bool { return ok.Load() > 50 }, "the load ran")

	phaseAt.Store(time.Now().UnixNano())
	phase.Store(1)
	nats.stop()
	phaseAt.Store(time.Now().UnixNano())
	phase.Store(2)
	eventually(t, func() bool { return unavailable.Load() > 20 }, "the load meets ErrClusterUnavailable")
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	start := time.Now()
	require.ErrorIs(t, a.Call(ctx, "on-b", "echo", 1, nil), ErrClusterUnavailable)
	require.ErrorIs(t, a.Emit(ctx, map[string]int{"x": 1}), ErrClusterUnavailable)
	_, err := a.Broadcast(ctx, "echo", 1)
	require.ErrorIs(t, err, ErrClusterUnavailable)
	require.Less(t, time.Since(start), bound, "with NATS down, they fail at once")
	time.Sleep(bound)

	nats.start()
	restarted := time.Now()
	phaseAt.Store(restarted.UnixNano())
	phase.Store(3)
	eventually(t, func() bool {
		return a.Call(ctx, "on-b", "echo", 1, nil) == nil && b.Call(ctx, "on-a", "echo", 1, nil) == nil
	}, "calls work again")
	t.Logf("calls work %v after NATS restarted; slowest ErrClusterUnavailable took %v", time.Since(restarted), time.Duration(slowest.Load()))
	close(stop)
	testserver.Wait(t, &wg, "the load")
	require.Nil(t, wrong.Load(), "every failure was ErrClusterUnavailable")
	require.LessOrEqual(t, time.Duration(slowest.Load()), bound+bound/2, "within the bound (UnavailableTimeout) and a little")
	for _, c := range []*peerClient{ca, cb} {
		receivedAll(t, c, evs.list())
	}
}

// A node that stalls (its requests queue, as in a long GC pause or
// SIGSTOP) past its callers' deadlines runs none of those calls when it
// resumes: no call runs after its caller was told it failed.
func TestStalledNodeRunsNoExpiredCall(t *testing.T) {
	testserver.ForEachEngine(t, testStalledNodeRunsNoExpiredCall)
}

func testStalledNodeRunsNoExpiredCall(t *testing.T) {
	a, b, _ := twoNodes(t)
	c := dial(t, b, "c", nil)
	sees(t, []*testNode{a}, map[string]string{"c": "b"})
	stall := make(chan struct{})
	hook := func() { <-stall }
	b.testHookDispatch.Store(&hook)

	const calls = 4
	var wg sync.WaitGroup
	for k := range calls {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			require.ErrorIs(t, a.Call(ctx, "c", "echo", k, nil), context.DeadlineExceeded)
		})
	}
	testserver.Wait(t, &wg, "the calls to the stalled node")
	b.testHookDispatch.Store(nil)
	close(stall)
	eventually(t, func() bool { return b.Stats().Expired == calls }, "b drops the expired calls")
	time.Sleep(2 * testInterval)
	require.Zero(t, c.handled.Load(), "no call ran after its caller gave up")

	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	require.NoError(t, a.Call(ctx, "c", "echo", 1, nil))
	require.Equal(t, int64(1), c.handled.Load())
}

// A caller that cancels ends the serving node's wait for the client.
func TestCancelTravels(t *testing.T) { testserver.ForEachEngine(t, testCancelTravels) }

func testCancelTravels(t *testing.T) {
	a, b, _ := twoNodes(t)
	hold := make(chan struct{})
	dial(t, b, "c", hold)
	sees(t, []*testNode{a}, map[string]string{"c": "b"})
	ctx, cancel := context.WithCancel(context.Background())
	held := callAsync(ctx, a.Node, "c", "hold")
	eventually(t, func() bool { return b.served.len() == 1 }, "the call runs on b")
	cancel()
	require.ErrorIs(t, testserver.Recv(t, held, "the cancelled call").err, context.Canceled)
	eventually(t, func() bool { return b.served.len() == 0 }, "b stops waiting for the client")
}

// A client admitted while NATS is down is served at once (its node does not
// wait UnavailableTimeout for NATS to confirm its subject), and is reachable
// from the other nodes once NATS is back (the subscription goes out on
// reconnection).
func TestAdmittedDuringOutage(t *testing.T) { testserver.ForEachEngine(t, testAdmittedDuringOutage) }

func testAdmittedDuringOutage(t *testing.T) {
	const bound = 5 * time.Second // UnavailableTimeout, far above a local admission
	nats := startNATSProcess(t)
	adjust := func(o *Options) { o.UnavailableTimeout = bound }
	a := startNode(t, nats.url(), "a", adjust)
	b := startNode(t, nats.url(), "b", adjust)
	eventually(t, func() bool { return len(a.Nodes()) == 2 && len(b.Nodes()) == 2 }, "the nodes know each other")
	nats.stop()
	eventually(t, func() bool { return !a.nc.IsConnected() }, "a sees NATS gone")

	start := time.Now()
	dial(t, a, "during-outage", nil) // returns after its first call was answered
	require.Less(t, time.Since(start), bound/2, "admitted without waiting for NATS")

	nats.start()
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	eventually(t, func() bool {
		var who string
		return b.Call(ctx, "during-outage", "whoami", nil, &who) == nil && who == "during-outage"
	}, "b reaches the client once NATS is back")
}
