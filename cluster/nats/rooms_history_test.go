package nats

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	natsio "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/wsrpc/wsrpc-go/internal/testserver"
	"github.com/wsrpc/wsrpc-go/rooms"
)

const historyEvents = 20

// historyOpts keeps the history of the rooms named "h:…".
var historyOpts = &rooms.Options{History: func(room string) *rooms.History {
	if strings.HasPrefix(room, "h:") {
		return &rooms.History{MaxEvents: historyEvents}
	}
	return nil
}}

// jetStreamUser connects to the NATS at natsURL as a plain JetStream
// user (no cluster secret) until the test ends.
func jetStreamUser(t testing.TB, natsURL string) jetstream.JetStream {
	t.Helper()
	nc, err := natsio.Connect(natsURL)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return js
}

// roomEvents returns the room members of the events p received, and the
// events without theirs.
func roomEvents(t testing.TB, p *peerClient) (marks []rooms.Mark, bodies []string) {
	t.Helper()
	for _, ev := range p.received() {
		m, ok := rooms.ReadMember([]byte(ev))
		require.True(t, ok, "a room event with its position: %s", ev)
		marks = append(marks, m)
		if i := strings.Index(ev, `"k":`); i >= 0 {
			bodies = append(bodies, ev[i:len(ev)-1])
		} else {
			bodies = append(bodies, "mark")
		}
	}
	return marks, bodies
}

// A room with history in JetStream: a client whose node died resumes
// on another node from the last position it saw and gets what it missed,
// in order, before the live events; a position of another epoch is lost.
func TestRoomResumeOnAnotherNode(t *testing.T) {
	testserver.ForEachEngine(t, testRoomResumeOnAnotherNode)
}

func testRoomResumeOnAnotherNode(t *testing.T) {
	nodes := startRoomNodesOn(t, startNATSWith(t, true), historyOpts, "a", "b", "c")
	a, b, c := nodes[0], nodes[1], nodes[2]
	alice := dial(t, a, "alice", nil)
	joinRoom(t, alice, "h:lobby")
	settled(t, nodes)
	roomEmit(t, b, "h:lobby", "1", "2")
	roomEmit(t, a, "h:lobby", "3") // from alice's own node: through the stream too
	eventually(t, func() bool { return len(alice.received()) == 3 }, "alice received three events")
	marks, bodies := roomEvents(t, alice)
	require.Equal(t, []string{`"k":"1"`, `"k":"2"`, `"k":"3"`}, bodies)
	require.True(t, marks[2].Position().After(marks[1].Position()) && marks[1].Position().After(marks[0].Position()), "positions grow: %v", marks)
	last := marks[2].Position()

	a.stop() // alice's node dies (no goodbye); she is away
	roomEmit(t, c, "h:lobby", "4", "5", "6")
	back := dial(t, b, "alice-back", nil)
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	var j rooms.Joined
	require.NoError(t, back.Call(ctx, rooms.RouteJoin, rooms.JoinParams{Room: "h:lobby", Since: &last, Marker: true}, &j))
	require.False(t, j.Lost)
	settled(t, nodes[1:])
	roomEmit(t, c, "h:lobby", "7")
	eventually(t, func() bool { return len(back.received()) == 5 }, "alice received what she missed, the mark, and the live event")
	marks, bodies = roomEvents(t, back)
	require.Equal(t, []string{`"k":"4"`, `"k":"5"`, `"k":"6"`, "mark", `"k":"7"`}, bodies)
	for i := 1; i < len(marks); i++ {
		if bodies[i] != "mark" && bodies[i-1] != "mark" {
			require.True(t, marks[i].Position().After(marks[i-1].Position()), "positions grow: %v", marks)
		}
	}
	require.Equal(t, last.Epoch, marks[0].Epoch, "one epoch while the stream lives")

	other := dial(t, c, "carol", nil)
	require.NoError(t, other.Call(ctx, rooms.RouteJoin, rooms.JoinParams{Room: "h:lobby", Since: &rooms.Position{Epoch: "gone", Offset: 2}}, &j))
	require.True(t, j.Lost, "a position of another epoch is lost")
	require.Equal(t, last.Epoch, j.Epoch)

	// The history keeps MaxEvents of a room: resuming from before them is
	// lost, from within them is not.
	keys := make([]string, historyEvents+2)
	for i := range keys {
		keys[i] = strconv.Itoa(i)
	}
	r := c.roomsOf.b.Load().rooms
	first, err := r.EmitEncoded(ctx, "h:full", []byte(`{"k":"first"}`))
	require.NoError(t, err)
	roomEmit(t, c, "h:full", keys...)
	require.NoError(t, other.Call(ctx, rooms.RouteJoin, rooms.JoinParams{Room: "h:full", Since: &first}, &j))
	require.True(t, j.Lost, "the history no longer reaches back")
	require.NoError(t, other.Call(ctx, rooms.RouteLeave, rooms.LeaveParams{Room: "h:full"}, nil))
	within := rooms.Position{Epoch: first.Epoch, Offset: j.Offset - 1}
	j = rooms.Joined{}
	require.NoError(t, other.Call(ctx, rooms.RouteJoin, rooms.JoinParams{Room: "h:full", Since: &within}, &j))
	require.False(t, j.Lost, "the last events are kept")
}

// A NATS user without the secret cannot put an event in a room's
// history: JetStream stores what it publishes, but neither the live
// delivery nor a resume hands it to a member.
func TestRoomHistoryRogue(t *testing.T) { testserver.ForEachEngine(t, testRoomHistoryRogue) }

func testRoomHistoryRogue(t *testing.T) {
	natsURL := startNATSWith(t, true)
	nodes := startRoomNodesOn(t, natsURL, historyOpts, "a", "b")
	a, b := nodes[0], nodes[1]
	alice := dial(t, b, "alice", nil)
	joinRoom(t, alice, "h:lobby")
	settled(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	start, err := a.roomsOf.b.Load().rooms.EmitEncoded(ctx, "h:lobby", []byte(`{"k":"real"}`))
	require.NoError(t, err)

	js := jetStreamUser(t, natsURL) // without the secret
	_, err = js.Publish(ctx, a.subj.roomStored("h:lobby"), []byte(`{"k":"rogue"}`))
	require.NoError(t, err, "JetStream stores what anyone may publish")
	eventually(t, func() bool { return b.Stats().Rejected >= 1 }, "b rejected the rogue's event")
	roomEmit(t, a, "h:lobby", "last")
	eventually(t, func() bool { return len(alice.received()) == 2 }, "alice received the real events")

	back := dial(t, b, "alice-back", nil)
	var j rooms.Joined
	require.NoError(t, back.Call(ctx, rooms.RouteJoin, rooms.JoinParams{Room: "h:lobby", Since: &start}, &j))
	require.False(t, j.Lost)
	eventually(t, func() bool { return len(back.received()) == 1 }, "the resume replayed the real event")
	for _, p := range []*peerClient{alice, back} {
		_, bodies := roomEvents(t, p)
		require.NotContains(t, bodies, `"k":"rogue"`, "%s: nothing of the rogue's", p.id)
	}
	_, bodies := roomEvents(t, back)
	require.Equal(t, []string{`"k":"last"`}, bodies)
}

// A node alone on its embedded NATS keeps rooms' history when given a
// store directory; a MaxAge under JetStream's default duplicate window
// (2 minutes) is taken.
func TestRoomHistoryEmbedded(t *testing.T) {
	n := startRawNode(t, "solo", &Options{EmbeddedStoreDir: t.TempDir()})
	r, err := n.Rooms(&rooms.Options{History: func(string) *rooms.History { return &rooms.History{MaxAge: 10 * time.Second} }})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	p1, err := r.Emit(ctx, "h:solo", map[string]int{"n": 1})
	require.NoError(t, err)
	p2, err := r.Emit(ctx, "h:solo", map[string]int{"n": 2})
	require.NoError(t, err)
	require.True(t, p2.After(p1), "%v after %v", p2, p1)
}

// A stream deleted while the nodes run (an operator, a NATS that lost its
// store) is made again on the next emit, with a new epoch: resuming from
// the old one is lost.
func TestRoomHistoryStreamDeleted(t *testing.T) {
	testserver.ForEachEngine(t, testRoomHistoryStreamDeleted)
}

func testRoomHistoryStreamDeleted(t *testing.T) {
	natsURL := startNATSWith(t, true)
	nodes := startRoomNodesOn(t, natsURL, historyOpts, "a", "b")
	a, b := nodes[0], nodes[1]
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	old, err := a.roomsOf.b.Load().rooms.EmitEncoded(ctx, "h:lobby", []byte(`{"k":"old"}`))
	require.NoError(t, err)

	js := jetStreamUser(t, natsURL)
	require.NoError(t, js.DeleteStream(ctx, streamName("wsrpc")))

	pos, err := a.roomsOf.b.Load().rooms.EmitEncoded(ctx, "h:lobby", []byte(`{"k":"new"}`))
	require.NoError(t, err, "the stream is made again")
	require.NotEqual(t, old.Epoch, pos.Epoch, "a new epoch")
	p := dial(t, b, "bob", nil)
	var j rooms.Joined
	require.NoError(t, p.Call(ctx, rooms.RouteJoin, rooms.JoinParams{Room: "h:lobby", Since: &old}, &j))
	require.True(t, j.Lost, "the old history is lost")
	require.Equal(t, pos, j.Position, "b reads the new stream")
}

// Without JetStream, emitting to a room with history fails, and says
// what to do.
func TestRoomHistoryWithoutJetStream(t *testing.T) {
	n := startRawNode(t, "solo", &Options{})
	r, err := n.Rooms(historyOpts)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	_, err = r.Emit(ctx, "h:solo", map[string]int{"n": 1})
	require.ErrorIs(t, err, ErrClusterUnavailable)
	require.ErrorContains(t, err, "JetStream enabled")
	_, err = r.Emit(ctx, "solo", map[string]int{"n": 1})
	require.NoError(t, err, "rooms without history need no JetStream")
}
