package nats

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	natsio "github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/wsrpc/wsrpc-go/internal/testserver"
	"github.com/wsrpc/wsrpc-go/rooms"
)

// startRoomNodes starts a NATS server and nodes named names on it, each
// with its rooms and the rooms.join and rooms.leave routes open to
// everyone, and waits until the nodes know each other.
func startRoomNodes(t *testing.T, names ...string) (nodes []*testNode, natsURL string) {
	t.Helper()
	natsURL = startNATS(t)
	return startRoomNodesOn(t, natsURL, nil, names...), natsURL
}

// startRoomNodesOn is startRoomNodes on the NATS at natsURL, the rooms
// made with opts.
func startRoomNodesOn(t *testing.T, natsURL string, opts *rooms.Options, names ...string) (nodes []*testNode) {
	t.Helper()
	for _, name := range names {
		nodes = append(nodes, startRoomNode(t, natsURL, opts, name))
	}
	eventually(t, func() bool {
		for _, n := range nodes {
			if len(n.Nodes()) != len(nodes) {
				return false
			}
		}
		return true
	}, "the nodes know each other")
	return nodes
}

// joinRoom makes p join room through the rooms.join route.
func joinRoom(t testing.TB, p *peerClient, room string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	require.NoError(t, p.Call(ctx, rooms.RouteJoin, rooms.JoinParams{Room: room}, nil))
}

// settled waits until NATS has every node's subscriptions.
func settled(t testing.TB, nodes []*testNode) {
	t.Helper()
	for _, n := range nodes {
		require.NoError(t, n.NATS().FlushTimeout(testBound))
	}
}

// roomEmit emits the events named by keys to room from n.
func roomEmit(t testing.TB, n *testNode, room string, keys ...string) {
	t.Helper()
	r := n.roomsOf.b.Load().rooms
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	for _, k := range keys {
		_, err := r.EmitEncoded(ctx, room, []byte(`{"k":"`+k+`"}`))
		require.NoError(t, err)
	}
}

// A room with members on three nodes: an event emitted on any node,
// including one without members, reaches each member exactly once; the
// node without members receives none of the room's events (NATS sends
// them only where there is interest), and neither does a node once its
// last member left.
func TestRoomAcrossNodes(t *testing.T) { testserver.ForEachEngine(t, testRoomAcrossNodes) }

func testRoomAcrossNodes(t *testing.T) {
	nodes, _ := startRoomNodes(t, "a", "b", "c", "d")
	a, b, c, d := nodes[0], nodes[1], nodes[2], nodes[3]
	const perNode = 100
	var members []*peerClient
	var mu sync.Mutex // protects members
	var wg sync.WaitGroup
	for _, n := range []*testNode{a, b, c} {
		for i := range perNode {
			wg.Go(func() {
				p := dial(t, n, n.Name()+"-"+strconv.Itoa(i), nil)
				joinRoom(t, p, "lobby")
				mu.Lock()
				members = append(members, p)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	other := dial(t, d, "d-other", nil) // d has members of another room only
	joinRoom(t, other, "elsewhere")
	settled(t, nodes)
	for _, n := range []*testNode{a, b, c} {
		require.Equal(t, perNode, n.roomsOf.b.Load().rooms.Count("lobby"))
	}

	var want []string
	for _, n := range nodes {
		for i := range 5 {
			k := n.Name() + strconv.Itoa(i)
			roomEmit(t, n, "lobby", k)
			want = append(want, `{"k":"`+k+`"}`)
		}
	}
	for _, p := range members {
		eventually(t, func() bool { return len(p.received()) >= len(want) }, p.id+" received every event")
	}
	time.Sleep(100 * time.Millisecond) // a duplicate would come now
	for _, p := range members {
		require.ElementsMatch(t, want, p.received(), "%s: each event exactly once", p.id)
	}
	require.Empty(t, other.received(), "a member of another room gets nothing")
	require.Zero(t, d.Stats().RoomEvents, "a node without members receives none of the room's events")
	for _, n := range []*testNode{a, b, c} {
		require.EqualValues(t, 15, n.Stats().RoomEvents, "%s: the events of the other nodes, once each", n.Name())
	}

	// c's members leave: c unsubscribes and receives no more.
	for _, p := range members {
		if p.id[0] == 'c' {
			_ = p.Close()
		}
	}
	eventually(t, func() bool { return c.roomsOf.b.Load().rooms.Count("lobby") == 0 }, "c's members left")
	settled(t, nodes)
	roomEmit(t, a, "lobby", "after")
	for _, p := range members {
		if p.id[0] != 'c' {
			eventually(t, func() bool { return len(p.received()) == len(want)+1 }, p.id+" received the last event")
		}
	}
	require.EqualValues(t, 15, c.Stats().RoomEvents, "a node whose members left receives nothing more")
	require.Zero(t, c.Stats().Rejected+c.Stats().DroppedEvents)
}

// A NATS user without the cluster secret cannot put an event in a room:
// unsigned, signed with another secret, or a node's event replayed, it is
// dropped and counted. An event signed by a node that is not one clients
// may see (a frame with "id", invalid UTF-8) is dropped too.
func TestRoomRoguePublisher(t *testing.T) { testserver.ForEachEngine(t, testRoomRoguePublisher) }

func testRoomRoguePublisher(t *testing.T) {
	nodes, natsURL := startRoomNodes(t, "a", "b")
	a, b := nodes[0], nodes[1]
	alice := dial(t, b, "alice", nil)
	joinRoom(t, alice, "lobby")
	settled(t, nodes)
	rogue, err := natsio.Connect(natsURL)
	require.NoError(t, err)
	defer rogue.Close()
	seen, err := rogue.SubscribeSync(a.subj.room("lobby"))
	require.NoError(t, err)
	require.NoError(t, rogue.Flush())
	roomEmit(t, a, "lobby", "real")
	real, err := seen.NextMsg(testBound)
	require.NoError(t, err)

	subject := a.subj.room("lobby")
	require.NoError(t, rogue.Publish(subject, []byte(`{"k":"unsigned"}`)))
	wrong := newAuth("a", "forged", []string{"another-secret-0123456789"})
	m := &natsio.Msg{Subject: subject, Data: []byte(`{"k":"wrong-secret"}`)}
	wrong.sign(m, 1, time.Now())
	require.NoError(t, rogue.PublishMsg(m))
	require.NoError(t, rogue.PublishMsg(&natsio.Msg{Subject: subject, Header: real.Header, Data: real.Data})) // replayed
	forged := &natsio.Msg{Subject: subject, Header: real.Header, Data: []byte(`{"k":"forged"}`)}              // a node's signature, another body
	require.NoError(t, rogue.PublishMsg(forged))
	require.NoError(t, rogue.Flush())
	eventually(t, func() bool { return b.Stats().Rejected >= 4 }, "b rejected the rogue's four events")

	// A node (it has the secret) signing frames that are not events.
	node := newAuth("a", "node", []string{testSecret})
	for i, f := range []string{`{"id":1,"result":"SPOOFED"}`, "{\"x\":\"\xff\"}", `[1]`} {
		m := &natsio.Msg{Subject: subject, Data: []byte(f)}
		node.sign(m, uint64(i+1), time.Now())
		require.NoError(t, rogue.PublishMsg(m))
	}
	require.NoError(t, rogue.Flush())
	eventually(t, func() bool { return b.Stats().DroppedEvents == 3 }, "b dropped the three frames")
	roomEmit(t, a, "lobby", "last")
	eventually(t, func() bool { return len(alice.received()) == 2 }, "alice received the real events")
	require.Equal(t, []string{`{"k":"real"}`, `{"k":"last"}`}, alice.received(), "nothing of the rogue's reached alice")
	require.EqualValues(t, 2, b.Stats().RoomEvents)
}

// Node.Rooms is called once per node; rooms with history need a backend
// that stores them.
func TestRoomsOnce(t *testing.T) { testserver.ForEachEngine(t, testRoomsOnce) }

func testRoomsOnce(t *testing.T) {
	nodes, _ := startRoomNodes(t, "a")
	_, err := nodes[0].Rooms(nil)
	require.ErrorIs(t, err, ErrRoomsInUse)
}
