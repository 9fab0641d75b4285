package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/internal/testserver"
)

// threeNodes starts a NATS server, three nodes on it and two clients on
// each ("n0-a", "n0-b", "n1-a", ...), and waits until every node finds them.
func threeNodes(t *testing.T, adjust func(*Options), hold <-chan struct{}) ([]*testNode, map[string]*peerClient) {
	url := startNATS(t)
	var nodes []*testNode
	clients := map[string]*peerClient{}
	want := map[string]string{}
	for i := range 3 {
		n := startNode(t, url, fmt.Sprintf("n%d", i), adjust)
		nodes = append(nodes, n)
		for _, s := range []string{"a", "b"} {
			id := fmt.Sprintf("n%d-%s", i, s)
			clients[id] = dial(t, n, id, hold)
			want[id] = n.Name()
		}
	}
	sees(t, nodes, want)
	return nodes, clients
}

func TestEmitReachesEveryClientOnce(t *testing.T) {
	testserver.ForEachEngine(t, testEmitReachesEveryClientOnce)
}

func testEmitReachesEveryClientOnce(t *testing.T) {
	nodes, clients := threeNodes(t, nil, nil)
	const perNode = 20
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	var want []string
	for i, n := range nodes {
		for k := range perNode {
			ev := fmt.Sprintf(`{"from":%d,"k":%d}`, i, k)
			want = append(want, ev)
			require.NoError(t, n.Emit(ctx, json.RawMessage(ev)))
		}
	}
	sort.Strings(want)
	for id, c := range clients {
		eventually(t, func() bool { return len(c.received()) >= len(want) }, id+" received every event")
		time.Sleep(2 * testInterval) // a duplicate would have arrived by now
		got := c.received()
		sort.Strings(got)
		require.Equal(t, want, got, "client %s: every event exactly once", id)
	}
}

func TestBroadcastCallsEveryClient(t *testing.T) {
	testserver.ForEachEngine(t, testBroadcastCallsEveryClient)
}

func testBroadcastCallsEveryClient(t *testing.T) {
	nodes, clients := threeNodes(t, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	res, err := nodes[1].Broadcast(ctx, "whoami", nil)
	require.NoError(t, err)
	got := map[string]string{}
	for _, r := range res {
		require.NoError(t, r.Err)
		var who string
		require.NoError(t, json.Unmarshal(r.Result, &who))
		require.Equal(t, r.ClientID, who)
		got[r.ClientID] = r.Node
	}
	require.Len(t, got, len(clients))
	require.Len(t, res, len(clients), "each client answers once")
	for id := range clients {
		require.Equal(t, id[:2], got[id], "client %s answered from its node", id)
	}
}

func TestCallCrossesNodes(t *testing.T) { testserver.ForEachEngine(t, testCallCrossesNodes) }

func testCallCrossesNodes(t *testing.T) {
	nodes, clients := threeNodes(t, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	tests := []struct {
		name, from, to string
	}{
		{"same node", "n0", "n0-b"},
		{"other node", "n0", "n2-a"},
		{"back", "n2", "n0-a"},
		{"third", "n1", "n2-b"},
	}
	byName := map[string]*Node{}
	for _, n := range nodes {
		byName[n.Name()] = n.Node
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var who string
			require.NoError(t, byName[tc.from].Call(ctx, tc.to, "whoami", nil, &who))
			require.Equal(t, tc.to, who)
			var echo map[string]int
			require.NoError(t, byName[tc.from].Call(ctx, tc.to, "echo", map[string]int{"x": 7}, &echo))
			require.Equal(t, map[string]int{"x": 7}, echo)

			err := byName[tc.from].Call(ctx, tc.to, "fail", nil, nil)
			var we *wsrpc.Error
			require.ErrorAs(t, err, &we)
			require.Equal(t, "KeyError", we.Type)
		})
	}
	err := nodes[0].Call(ctx, "nobody", "whoami", nil, nil)
	require.ErrorIs(t, err, ErrClientNotFound)

	// A client that leaves is found on no node; a call to it then fails.
	require.NoError(t, clients["n2-a"].Close())
	gone(t, nodes[0].Node, "n2-a")
	require.ErrorIs(t, nodes[0].Call(ctx, "n2-a", "whoami", nil, nil), ErrClientNotFound)
}

// TestNodeKilledMidLoad kills a node (no goodbye: as a crash looks) while
// the others call its clients: calls in flight fail with ErrNodeDown
// within a few seconds although their deadline is far, no node finds its
// clients within the expiry, every call that succeeded was answered by
// its client with its own params, and the node restarted under its name
// rejoins.
func TestNodeKilledMidLoad(t *testing.T) { testserver.ForEachEngine(t, testNodeKilledMidLoad) }

func testNodeKilledMidLoad(t *testing.T) {
	hold := make(chan struct{})
	nodes, clients := threeNodes(t, nil, hold)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // far: the failure must come first
	defer cancel()

	held := callAsync(ctx, nodes[0].Node, "n2-a", "hold")
	eventually(t, func() bool { return nodes[0].waitingOn("n2") == 1 }, "n2 acknowledged the held call")

	// Load: n0 and n1 call n2's clients (and n1's, which stay up) in loops.
	var ok, answered atomic.Int64
	var wrong atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		from := nodes[w%2].Node
		to := []string{"n2-a", "n2-b", "n1-a", "n2-b"}[w]
		loop(&wg, stop, func(k int) {
			token := strconv.Itoa(w) + "/" + strconv.Itoa(k)
			var got string
			cctx, ccancel := context.WithTimeout(ctx, testBound)
			err := from.Call(cctx, to, "echo", token, &got)
			ccancel()
			switch {
			case err == nil:
				ok.Add(1)
				if got != token {
					wrong.Store(fmt.Sprintf("%s answered %q to %q", to, got, token))
				}
			case errors.Is(err, ErrNodeDown), errors.Is(err, ErrClientNotFound):
				if to == "n1-a" {
					wrong.Store(fmt.Sprintf("a call to n1-a, whose node lives, failed: %v", err))
				}
				time.Sleep(5 * time.Millisecond)
			default:
				wrong.Store(fmt.Sprintf("call to %s: %v", to, err))
			}
		})
	}
	// And events from n1 all along: every one Emit acknowledged must reach
	// every client of the nodes that live.
	acked := emitLoad(&wg, stop, func(ctx context.Context, ev json.RawMessage) error { return nodes[1].Emit(ctx, ev) }, nil)
	eventually(t, func() bool { return ok.Load() > 50 }, "the load ran")

	killed := time.Now()
	nodes[2].stop() // no bye: as if the process died
	r := testserver.Recv(t, held, "the held call to the killed node's client")
	require.ErrorIs(t, r.err, ErrNodeDown)
	t.Logf("held call failed %v after the kill (expiry %v)", time.Since(killed), testExpiry)
	for _, n := range nodes[:2] {
		gone(t, n.Node, "n2-a")
		gone(t, n.Node, "n2-b")
	}
	require.ErrorIs(t, nodes[0].Call(ctx, "n2-a", "echo", "x", nil), ErrClientNotFound)
	eventually(t, func() bool { return !slices.Contains(nodes[0].Nodes(), "n2") }, "n0 counts n2 down")
	res, err := nodes[0].Broadcast(ctx, "whoami", nil)
	require.NoError(t, err, "a broadcast after the expiry asks the live nodes only")
	require.Len(t, res, 4)
	close(stop)
	testserver.Wait(t, &wg, "the load")
	require.Nil(t, wrong.Load())
	for _, id := range []string{"n2-a", "n2-b", "n1-a"} {
		answered.Add(clients[id].handled.Load())
	}
	require.GreaterOrEqual(t, answered.Load(), ok.Load(), "every acknowledged call was answered by its client")
	require.NotEmpty(t, acked.list())
	for _, id := range []string{"n0-a", "n0-b", "n1-a", "n1-b"} {
		receivedAll(t, clients[id], acked.list())
	}

	// Restarted under its name, n2 rejoins: new clients are seen and called.
	n2 := startNode(t, natsURLOf(nodes[0]), "n2", nil)
	c := dial(t, n2, "n2-a", nil)
	sees(t, []*testNode{nodes[0], nodes[1], n2}, map[string]string{"n2-a": "n2", "n0-a": "n0", "n1-b": "n1"})
	var who string
	require.NoError(t, nodes[1].Call(ctx, "n2-a", "whoami", nil, &who))
	require.Equal(t, "n2-a", who)
	require.NoError(t, n2.Call(ctx, "n0-b", "whoami", nil, &who))
	require.Equal(t, "n0-b", who)
	_ = c
}

// natsURLOf returns the NATS URL a test node joined.
func natsURLOf(n *testNode) string { return n.opts.URL }

func TestClosedNodeLeavesAtOnce(t *testing.T) {
	testserver.ForEachEngine(t, testClosedNodeLeavesAtOnce)
}

func testClosedNodeLeavesAtOnce(t *testing.T) {
	hold := make(chan struct{})
	// An expiry longer than the test: only the goodbye can end the call.
	nodes, _ := threeNodes(t, func(o *Options) { o.HeartbeatExpiry = 2 * time.Minute }, hold)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	held := callAsync(ctx, nodes[0].Node, "n1-b", "hold")
	eventually(t, func() bool { return nodes[0].waitingOn("n1") == 1 }, "n1 acknowledged the held call")
	require.NoError(t, nodes[1].Close())
	r := testserver.Recv(t, held, "the held call to the closed node's client")
	require.Error(t, r.err)
	require.ErrorIs(t, r.err, ErrNodeDown)
	gone(t, nodes[2].Node, "n1-a")
	eventually(t, func() bool { return !slices.Contains(nodes[2].Nodes(), "n1") }, "n2 forgets n1")
}

func TestOverloadFailsFast(t *testing.T) { testserver.ForEachEngine(t, testOverloadFailsFast) }

func testOverloadFailsFast(t *testing.T) {
	hold := make(chan struct{})
	tests := []struct {
		name   string
		adjust func(*Options)
	}{
		{"MaxInFlight", func(o *Options) { o.MaxInFlight = 2 }},
		{"MaxServing", func(o *Options) { o.MaxServing = 2 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nodes, _ := threeNodes(t, tc.adjust, hold)
			ctx, cancel := context.WithTimeout(context.Background(), testBound)
			defer cancel()
			a := callAsync(ctx, nodes[0].Node, "n1-a", "hold")
			b := callAsync(ctx, nodes[0].Node, "n1-b", "hold")
			eventually(t, func() bool { return nodes[1].served.len() == 2 }, "two held calls run on n1")
			err := nodes[0].Call(ctx, "n1-a", "echo", 1, nil)
			require.ErrorIs(t, err, ErrOverloaded)
			// The node's own clients are not held up by the limit.
			require.NoError(t, nodes[0].Call(ctx, "n0-a", "echo", 1, nil))
			hold <- struct{}{}
			hold <- struct{}{}
			require.NoError(t, testserver.Recv(t, a, "held call a").err)
			require.NoError(t, testserver.Recv(t, b, "held call b").err)
			require.NoError(t, nodes[0].Call(ctx, "n1-a", "echo", 1, nil))
		})
	}
}

// A client that reconnects to another node replaces its older connection,
// as on one server.
func TestReconnectElsewhereReplaces(t *testing.T) {
	testserver.ForEachEngine(t, testReconnectElsewhereReplaces)
}

func testReconnectElsewhereReplaces(t *testing.T) {
	nodes, clients := threeNodes(t, nil, nil)
	old := clients["n0-a"]
	dial(t, nodes[2], "n0-a", nil)
	testserver.Closed(t, old.Done(), "the older connection of n0-a")
	sees(t, nodes, map[string]string{"n0-a": "n2"})
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	var who string
	require.NoError(t, nodes[0].Call(ctx, "n0-a", "whoami", nil, &who))
	require.Equal(t, "n0-a", who)
}

func TestEmbeddedClusterOfOne(t *testing.T) { testserver.ForEachEngine(t, testEmbeddedClusterOfOne) }

func testEmbeddedClusterOfOne(t *testing.T) {
	n := startNode(t, "", "solo", nil)
	c := dial(t, n, "me", nil)
	sees(t, []*testNode{n}, map[string]string{"me": "solo"})
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	var who string
	require.NoError(t, n.Call(ctx, "me", "whoami", nil, &who))
	require.Equal(t, "me", who)
	require.NoError(t, n.Emit(ctx, map[string]int{"hello": 1}))
	eventually(t, func() bool { return len(c.received()) == 1 }, "the event")
	all, err := n.Clients(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"me": "solo"}, all)
}
