package nats

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"

	"github.com/wsrpc/wsrpc-go/internal/testserver"
)

// Ids with the bytes that mean something in a NATS subject ('.', '*',
// '>'), and ids long enough to be hashed, are each one client, reachable
// from another node; any string (spaces, invalid UTF-8, empty) is safe
// to call.
func TestIDsAnyBytes(t *testing.T) { testserver.ForEachEngine(t, testIDsAnyBytes) }

func testIDsAnyBytes(t *testing.T) {
	a, b, _ := twoNodes(t)
	ids := []string{"x.y", "*", ">", "wsrpc.>", "a%b", "~!@#$^&()", strings.Repeat("L", 127), strings.Repeat("L", 128)}
	for _, id := range ids {
		dial(t, b, id, nil)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	for _, id := range ids {
		var who string
		require.NoError(t, a.Call(ctx, id, "whoami", nil, &who), "id %q", id)
		require.Equal(t, id, who)
	}
	require.ErrorIs(t, a.Call(ctx, "x", "whoami", nil, nil), ErrClientNotFound, "x.y's subject is not x's")
	for _, id := range []string{strings.Repeat("L", 126), "a b", "\xff\xfe", "x.y\n", "", strings.Repeat("é", 500)} {
		require.ErrorIs(t, a.Call(ctx, id, "whoami", nil, nil), ErrClientNotFound, "id %q", id)
	}
	all, err := a.Clients(ctx)
	require.NoError(t, err)
	require.Len(t, all, len(ids))
}

// Two admissions of one id at the same moment on two nodes leave exactly
// one connection; so do three nodes and a sequence of reconnections.
func TestSimultaneousAdmission(t *testing.T) { testserver.ForEachEngine(t, testSimultaneousAdmission) }

func testSimultaneousAdmission(t *testing.T) {
	natsURL := startNATS(t)
	nodes := []*testNode{startNode(t, natsURL, "a", nil), startNode(t, natsURL, "b", nil), startNode(t, natsURL, "c", nil)}
	const ids = 12
	var wg sync.WaitGroup
	conns := make([][]*peerClient, ids)
	for k := range ids {
		conns[k] = make([]*peerClient, 2+k%2)
		for i := range conns[k] {
			wg.Go(func() { conns[k][i] = dial(t, nodes[i], fmt.Sprintf("dup-%d", k), nil) })
		}
	}
	testserver.Wait(t, &wg, "the dials")
	open := func(k int) (alive int, on []int) {
		for i, c := range conns[k] {
			select {
			case <-c.Done():
			default:
				alive++
				on = append(on, i)
			}
		}
		return alive, on
	}
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	for k := range ids {
		eventually(t, func() bool { a, _ := open(k); return a <= 1 }, fmt.Sprintf("dup-%d has at most one connection", k))
	}
	time.Sleep(5 * testInterval) // a late claim would close one more by now
	for k := range ids {
		alive, on := open(k)
		require.Equal(t, 1, alive, "dup-%d: exactly one connection survives", k)
		node, err := nodes[0].Lookup(ctx, fmt.Sprintf("dup-%d", k))
		require.NoError(t, err)
		require.Equal(t, nodes[on[0]].Name(), node)
		var who string
		require.NoError(t, nodes[(on[0]+1)%3].Call(ctx, fmt.Sprintf("dup-%d", k), "whoami", nil, &who))
	}
}

// A node started with the name of a live node refuses to start.
func TestDuplicateNodeName(t *testing.T) {
	natsURL := startNATS(t)
	twin, err := New(context.Background(), nil, nil, &Options{Name: "twin", URL: natsURL, Secret: testSecret})
	require.NoError(t, err)
	t.Cleanup(func() { _ = twin.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	_, err = New(ctx, nil, nil, &Options{Name: "twin", URL: natsURL, Secret: testSecret})
	require.ErrorIs(t, err, ErrNameInUse)
	require.Contains(t, err.Error(), "give each node its own Options.Name")
	// Another name, or the same secret missing: clear errors too.
	_, err = New(ctx, nil, nil, &Options{Name: "other", URL: natsURL})
	require.ErrorContains(t, err, "Options.Secret is required")
	n, err := New(ctx, nil, nil, &Options{Name: "other", URL: natsURL, Secret: testSecret})
	require.NoError(t, err)
	require.NoError(t, n.Close())
}

// A broadcast whose answers exceed NATS's max_payload many times over
// returns every answer: each node streams them in parts.
func TestBroadcastStreamsParts(t *testing.T) { testserver.ForEachEngine(t, testBroadcastStreamsParts) }

func testBroadcastStreamsParts(t *testing.T) {
	s, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true, MaxPayload: 4096})
	require.NoError(t, err)
	go s.Start()
	require.True(t, s.ReadyForConnections(testBound))
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	nodes := []*testNode{startNode(t, s.ClientURL(), "a", nil), startNode(t, s.ClientURL(), "b", nil), startNode(t, s.ClientURL(), "c", nil)}
	const perNode = 25
	for _, n := range nodes {
		for k := range perNode {
			dial(t, n, fmt.Sprintf("%s-%d", n.Name(), k), nil)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	eventually(t, func() bool { k, err := nodes[0].Count(ctx); return err == nil && k == 3*perNode }, "every client counted")
	param := strings.Repeat("p", 302)
	res, err := nodes[0].Broadcast(ctx, "echo", param)
	require.NoError(t, err)
	require.Len(t, res, 3*perNode, "every client answers, 302 bytes each over a 4 KB max_payload")
	seen := map[string]bool{}
	for _, r := range res {
		require.NoError(t, r.Err)
		var got string
		require.NoError(t, json.Unmarshal(r.Result, &got))
		require.Equal(t, param, got)
		require.False(t, seen[r.ClientID], "one answer per client")
		seen[r.ClientID] = true
		require.True(t, strings.HasPrefix(r.ClientID, r.Node+"-"))
	}
	all, err := nodes[1].Clients(ctx)
	require.NoError(t, err)
	require.Len(t, all, 3*perNode)
}

// A client is reachable from every node by the time the node reads its
// first message: whatever that message causes elsewhere finds it (the
// node confirms the client's subscription with NATS before reading).
func TestReachableOnceFirstMessageRead(t *testing.T) {
	testserver.ForEachEngine(t, testReachableOnceFirstMessageRead)
}

func testReachableOnceFirstMessageRead(t *testing.T) {
	a, b, _ := twoNodes(t)
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	for k := range 40 {
		id := fmt.Sprintf("first-%d", k)
		dial(t, b, id, nil) // returns after the client's first call came back
		var who string
		require.NoError(t, a.Call(ctx, id, "whoami", nil, &who), "client %d", k)
		require.Equal(t, id, who)
	}
}
