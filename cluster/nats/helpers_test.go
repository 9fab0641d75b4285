package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/internal/testserver"
	"github.com/wsrpc/wsrpc-go/server"
)

// Test timings: short enough for quick tests, long enough that a loaded,
// shared machine running -race does not miss heartbeats.
const (
	testInterval = 200 * time.Millisecond
	testExpiry   = 1500 * time.Millisecond
	// testBound is how long anything that should happen "within a few
	// seconds" may take before the test fails.
	testBound = 10 * time.Second
	// testSecret is the cluster secret of the test nodes.
	testSecret = "test-cluster-secret-0123456789"
)

// startNATS starts a NATS server on a loopback port for the test and
// returns its URL.
func startNATS(t testing.TB) string { return natsServer(t).ClientURL() }

// natsServer starts a NATS server on a loopback port for the test.
func natsServer(t testing.TB) *natsserver.Server {
	t.Helper()
	return natsServerWith(t, false)
}

// startNATSWith is startNATS, with JetStream (stored in a temporary
// directory) when jetStream is true.
func startNATSWith(t testing.TB, jetStream bool) string {
	t.Helper()
	return natsServerWith(t, jetStream).ClientURL()
}

// natsServerWith is natsServer, with JetStream when jetStream is true.
func natsServerWith(t testing.TB, jetStream bool) *natsserver.Server {
	t.Helper()
	o := &natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true}
	if jetStream {
		o.JetStream, o.StoreDir = true, t.TempDir()
	}
	s, err := natsserver.NewServer(o)
	require.NoError(t, err)
	go s.Start()
	require.True(t, s.ReadyForConnections(testBound), "NATS server did not start")
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// identify names a connection by its ?id= query (generated when absent).
func identify(r *http.Request) (string, any, error) {
	return r.URL.Query().Get("id"), nil, nil
}

// testNode is a node served for a test and the WebSocket URL of its server.
type testNode struct {
	*Node
	url string
}

// startNode starts node name on NATS at natsURL, served by the engine of
// the running ForEachEngine subtest. opts may adjust the defaults.
func startNode(t testing.TB, natsURL, name string, adjust func(*Options)) *testNode {
	t.Helper()
	o := testOptions(natsURL, name)
	if adjust != nil {
		adjust(o)
	}
	return startNodeWith(t, o, &server.Options{Identify: identify})
}

// testOptions are the options of test node name on NATS at natsURL.
func testOptions(natsURL, name string) *Options {
	return &Options{Name: name, URL: natsURL, HeartbeatInterval: testInterval, HeartbeatExpiry: testExpiry, Secret: testSecret}
}

// startNodeWith starts the node of o with the server options so (the
// engine of the running ForEachEngine subtest set in them).
func startNodeWith(t testing.TB, o *Options, so *server.Options) *testNode {
	t.Helper()
	if e := testserver.Current(); e != testserver.HTTP {
		so.Engine = e
	}
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	n, err := New(ctx, nil, so, o)
	require.NoError(t, err)
	url := testserver.Listen(t, n.Server())
	t.Cleanup(func() { _ = n.Close() })
	return &testNode{Node: n, url: url}
}

// twoNodes starts a NATS server and nodes a and b on it, and waits until
// they know each other.
func twoNodes(t testing.TB) (a, b *testNode, natsURL string) {
	t.Helper()
	natsURL = startNATS(t)
	a = startNode(t, natsURL, "a", nil)
	b = startNode(t, natsURL, "b", nil)
	eventually(t, func() bool { return len(a.Nodes()) == 2 && len(b.Nodes()) == 2 }, "the nodes know each other")
	return a, b, natsURL
}

// startRawNode starts a node on an embedded NATS, served on a loopback
// port by the default engine: for fuzz targets and benchmarks, which run
// outside ForEachEngine.
func startRawNode(t testing.TB, name string, o *Options) *testNode {
	t.Helper()
	o.Name = name
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	n, err := New(ctx, nil, &server.Options{Identify: identify}, o)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = n.Server().Serve(ln) }()
	t.Cleanup(func() { _ = n.Close(); _ = ln.Close() })
	return &testNode{Node: n, url: "ws://" + ln.Addr().String() + "/ws/"}
}

// peer is a test client: it answers echo (its params), whoami and hold
// (blocks until released or its context ends), and records events.
type peerClient struct {
	*client.Client
	id      string
	handled atomic.Int64 // echo calls answered

	mu     sync.Mutex // protects events
	events []string
}

// dial connects a client with id to node.
func dial(t testing.TB, node *testNode, id string, hold <-chan struct{}) *peerClient {
	t.Helper()
	p := &peerClient{id: id}
	reg := wsrpc.NewRegistry()
	reg.MustAdd("echo", func(ctx context.Context, v json.RawMessage) (json.RawMessage, error) {
		p.handled.Add(1)
		return v, nil
	})
	reg.MustAdd("whoami", func(ctx context.Context) (string, error) { return p.id, nil })
	reg.MustAdd("fail", func(ctx context.Context) (int, error) {
		return 0, wsrpc.NewError("KeyError", "no such thing")
	})
	reg.MustAdd("hold", func(ctx context.Context) (bool, error) {
		select {
		case <-hold:
			return true, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	c, err := client.Dial(ctx, node.url+"?id="+url.QueryEscape(id), reg, &client.Options{
		Options: wsrpc.Options{OnEvent: func(_ *wsrpc.Conn, ev json.RawMessage) {
			p.mu.Lock()
			p.events = append(p.events, string(ev))
			p.mu.Unlock()
		}},
	})
	require.NoError(t, err)
	p.Client = c
	t.Cleanup(func() { _ = c.Close() })
	// The node reads the client's first message once its subject is
	// subscribed on NATS (joined): after this round trip every node
	// reaches the client.
	_ = c.Call(ctx, "ping", map[string]int{}, nil) // fails only if the node closed it (replaced): the test sees that
	return p
}

func (p *peerClient) received() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.events...)
}

// eventually waits, bounded by testBound, until cond holds.
func eventually(t testing.TB, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(testBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", testBound, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sees waits until every node finds each client on the node named.
func sees(t testing.TB, nodes []*testNode, want map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	for _, n := range nodes {
		eventually(t, func() bool {
			for id, node := range want {
				if at, err := n.Lookup(ctx, id); err != nil || at != node {
					return false
				}
			}
			return true
		}, n.Name()+" finds every client on its node")
	}
}

// gone waits until no node finds client id.
func gone(t testing.TB, n *Node, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	var last error
	eventually(t, func() bool {
		var at string
		at, last = n.Lookup(ctx, id)
		if !errors.Is(last, ErrClientNotFound) {
			t.Logf("lookup %s: %q %v", id, at, last)
		}
		return errors.Is(last, ErrClientNotFound)
	}, n.Name()+" finds "+id+" nowhere")
}

// waitingOn counts the requests of n that node acknowledged serving.
func (n *Node) waitingOn(node string) int {
	n.calls.mu.Lock()
	defer n.calls.mu.Unlock()
	k := 0
	for _, p := range n.calls.pending {
		if p.node == node {
			k++
		}
	}
	return k
}

// callResult is the outcome of one call.
type callResult struct {
	err error
	in  time.Duration
}

// callAsync calls method on id through n and reports on the channel.
func callAsync(ctx context.Context, n *Node, id, method string) <-chan callResult {
	ch := make(chan callResult, 1)
	start := time.Now()
	go func() {
		var ok bool
		err := n.Call(ctx, id, method, nil, &ok)
		ch <- callResult{err: err, in: time.Since(start)}
	}()
	return ch
}

// acked is the events an emitter's Emit acknowledged.
type acked struct {
	mu  sync.Mutex // protects evs
	evs []string
}

func (a *acked) list() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.evs...)
}

// emitLoad emits numbered events with emit until stop closes (wg waits
// for it), keeping those acknowledged; failed, if not nil, sees the
// others' errors with how long each took.
func emitLoad(wg *sync.WaitGroup, stop <-chan struct{}, emit func(context.Context, json.RawMessage) error, failed func(error, time.Duration)) *acked {
	a := &acked{}
	loop(wg, stop, func(k int) {
		ev := fmt.Sprintf(`{"k":%d}`, k)
		ctx, cancel := context.WithTimeout(context.Background(), testBound)
		start := time.Now()
		err := emit(ctx, json.RawMessage(ev))
		cancel()
		if err == nil {
			a.mu.Lock()
			a.evs = append(a.evs, ev)
			a.mu.Unlock()
		} else if failed != nil {
			failed(err, time.Since(start))
		}
		time.Sleep(2 * time.Millisecond)
	})
	return a
}

// loop runs f(0), f(1), ... on a goroutine of wg until stop closes.
func loop(wg *sync.WaitGroup, stop <-chan struct{}, f func(k int)) {
	wg.Go(func() {
		for k := 0; ; k++ {
			select {
			case <-stop:
				return
			default:
			}
			f(k)
		}
	})
}

// receivedAll waits until c received every event of evs.
func receivedAll(t testing.TB, c *peerClient, evs []string) {
	t.Helper()
	eventually(t, func() bool {
		got := map[string]bool{}
		for _, ev := range c.received() {
			got[ev] = true
		}
		for _, ev := range evs {
			if !got[ev] {
				return false
			}
		}
		return true
	}, c.id+" received every acknowledged event")
}
