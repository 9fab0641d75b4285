package nats

import (
	"context"
	"strconv"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"

	"github.com/wsrpc/wsrpc-go/internal/testserver"
	"github.com/wsrpc/wsrpc-go/rooms"
)

// boundsOpts gives each room of TestRoomHistoryBoundsPerRoom its own
// History.
var boundsOpts = &rooms.Options{History: func(room string) *rooms.History {
	switch room {
	case "few":
		return &rooms.History{MaxEvents: 5}
	case "many":
		return &rooms.History{MaxEvents: 50}
	case "small":
		return &rooms.History{MaxEvents: 50, MaxBytes: 100}
	case "young":
		return &rooms.History{MaxEvents: 50, MaxAge: time.Second}
	}
	return nil
}}

// TestRoomHistoryBoundsPerRoom: rooms of one cluster with different
// History bounds share the rooms' stream, whose limits rise to the
// largest (a room with more events than the first room's keeps them),
// and a resume sees each room's own bounds: count, bytes and age, as on
// one node.
func TestRoomHistoryBoundsPerRoom(t *testing.T) {
	testserver.ForEachEngine(t, testRoomHistoryBoundsPerRoom)
}

func testRoomHistoryBoundsPerRoom(t *testing.T) {
	natsURL := startNATSWith(t, true)
	nodes := startRoomNodesOn(t, natsURL, boundsOpts, "a", "b")
	a, b := nodes[0], nodes[1]
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	// emit sends events of 20 bytes ({"k":"n-000000000"}) to room from a
	// and returns their positions.
	emit := func(room string, n int) []rooms.Position {
		r := a.roomsOf.b.Load().rooms
		var ps []rooms.Position
		for i := range n {
			p, err := r.EmitEncoded(ctx, room, []byte(`{"k":"n-`+strconv.Itoa(1e9 + i)[1:]+`"}`))
			require.NoError(t, err)
			ps = append(ps, p)
		}
		return ps
	}
	p := dial(t, b, "bob", nil)
	resume := func(room string, since rooms.Position) bool {
		var j rooms.Joined
		require.NoError(t, p.Call(ctx, rooms.RouteJoin, rooms.JoinParams{Room: room, Since: &since}, &j))
		require.NoError(t, p.Call(ctx, rooms.RouteLeave, rooms.LeaveParams{Room: room}, nil))
		return j.Lost
	}

	few := emit("few", 12) // the stream is made for 5 events a room
	many := emit("many", 51)
	require.True(t, resume("few", few[5]), "6 events after it, the room keeps 5")
	require.False(t, resume("few", few[6]), "5 events after it")
	require.False(t, resume("many", many[0]), "50 events after it, the room keeps 50: the stream rose")
	info, err := jetStreamUser(t, natsURL).Stream(ctx, streamName("wsrpc"))
	require.NoError(t, err)
	require.EqualValues(t, 51, info.CachedInfo().Config.MaxMsgsPerSubject, "the largest room's, and the event seen last")

	small := emit("small", 10) // 20 bytes each, the room keeps 100
	require.True(t, resume("small", small[3]), "120 bytes after it")
	require.False(t, resume("small", small[4]), "100 bytes after it")

	young := emit("young", 2) // the room keeps a second
	require.False(t, resume("young", young[0]))
	time.Sleep(1100 * time.Millisecond)
	require.True(t, resume("young", young[0]), "the event after it is older than the room's MaxAge")
	require.Zero(t, a.Stats().Rejected+b.Stats().Rejected)
}

// A History whose MaxBytes needs more storage than JetStream has fails
// the emits to its room with an error that says what to do; rooms of
// smaller bounds keep working.
func TestRoomHistoryTooLarge(t *testing.T) {
	o := &natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true, JetStream: true, StoreDir: t.TempDir(), JetStreamMaxStore: 64 << 20}
	s, err := natsserver.NewServer(o)
	require.NoError(t, err)
	go s.Start()
	require.True(t, s.ReadyForConnections(testBound))
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	n := startRawNode(t, "solo", &Options{URL: s.ClientURL(), Secret: testSecret})
	r, err := n.Rooms(&rooms.Options{History: func(room string) *rooms.History {
		if room == "huge" {
			return &rooms.History{MaxBytes: 1 << 20} // 1 GiB for the stream
		}
		return &rooms.History{MaxBytes: 16 << 10} // 16 MiB
	}})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	_, err = r.Emit(ctx, "small", map[string]int{"n": 1})
	require.NoError(t, err)
	_, err = r.Emit(ctx, "huge", map[string]int{"n": 1})
	require.ErrorIs(t, err, ErrClusterUnavailable)
	require.ErrorContains(t, err, "lower MaxBytes")
	_, err = r.Emit(ctx, "small", map[string]int{"n": 2})
	require.NoError(t, err)
}
