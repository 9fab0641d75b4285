package nats

import (
	"context"
	"testing"
	"time"

	natsio "github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/wsrpc/wsrpc-go/internal/testserver"
)

// RoomCount and RoomMembers count and page the members of a room on
// every node: asked from a node without members, with a node without
// rooms in the cluster (skipped, not an error); a page cut between the
// members of two nodes; a query of a NATS user without the secret is
// dropped unanswered.
func TestRoomMembersAcrossNodes(t *testing.T) {
	testserver.ForEachEngine(t, testRoomMembersAcrossNodes)
}

func testRoomMembersAcrossNodes(t *testing.T) {
	nodes, natsURL := startRoomNodes(t, "a", "b", "c")
	a, b, c := nodes[0], nodes[1], nodes[2]
	plain := startNode(t, natsURL, "d", nil) // no rooms
	eventually(t, func() bool { return len(c.Nodes()) == 4 }, "c knows d")
	for id, n := range map[string]*testNode{"m1": a, "m2": b, "m3": a, "m4": b, "m5": a} {
		joinRoom(t, dial(t, n, id, nil), "lobby")
	}
	joinRoom(t, dial(t, c, "other", nil), "elsewhere")
	for _, id := range []string{"s1", "s2", "s3"} {
		joinRoom(t, dial(t, a, id, nil), "solo")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()

	count, err := c.RoomCount(ctx, "lobby")
	require.NoError(t, err)
	require.Equal(t, 5, count)
	require.Equal(t, 0, c.roomsOf.b.Load().rooms.Count("lobby"), "Rooms.Count is the node's own")
	count, err = a.RoomCount(ctx, "elsewhere")
	require.NoError(t, err)
	require.Equal(t, 1, count)

	var got []RoomMember
	after, pages := "", 0
	for {
		page, next, err := c.RoomMembers(ctx, "lobby", after, 2)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page), 2)
		got = append(got, page...)
		pages++
		if next == "" {
			break
		}
		after = next
	}
	require.Equal(t, []RoomMember{{"m1", "a"}, {"m2", "b"}, {"m3", "a"}, {"m4", "b"}, {"m5", "a"}}, got)
	require.Equal(t, 3, pages)
	page, next, err := b.RoomMembers(ctx, "lobby", "m4", 1)
	require.NoError(t, err)
	require.Equal(t, []RoomMember{{"m5", "a"}}, page)
	require.Empty(t, next, "the last page")
	page, next, err = c.RoomMembers(ctx, "solo", "", 2) // all on one other node
	require.NoError(t, err)
	require.Equal(t, []RoomMember{{"s1", "a"}, {"s2", "a"}}, page)
	require.Equal(t, "s2", next, "a has more")
	_, _, err = b.RoomMembers(ctx, "lobby", "", MaxRoomPage+1)
	require.Error(t, err)
	_, err = plain.RoomCount(ctx, "lobby")
	require.ErrorIs(t, err, ErrNoRooms)

	rogue, err := natsio.Connect(natsURL)
	require.NoError(t, err)
	defer rogue.Close()
	_, err = rogue.Request(a.subj.roomsNode("a"), []byte(`{"k":"rcount","params":{"room":"lobby"}}`), 300*time.Millisecond)
	require.ErrorIs(t, err, natsio.ErrTimeout, "no answer to an unsigned query")
	eventually(t, func() bool { return a.Stats().Rejected == 1 }, "a rejected the query")
}
