package rooms_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/internal/testkit"
	"github.com/wsrpc/wsrpc-go/internal/testserver"
	"github.com/wsrpc/wsrpc-go/rooms"
	"github.com/wsrpc/wsrpc-go/server"
)

// TestRoomsJoinEmitLeave: a room's event reaches its members, joined from
// server code or by the client's call, and no one else; a member that
// leaves or closes stops getting them; count and pages follow.
func TestRoomsJoinEmitLeave(t *testing.T) { testserver.ForEachEngine(t, testJoinEmitLeave) }

func testJoinEmitLeave(t *testing.T) {
	f := startRooms(t, nil)
	a, ac, aev := f.dial(t, nil)
	b, _, bev := f.dial(t, nil)
	_, _, oev := f.dial(t, nil) // in no room
	ctx := ctx(t)

	_, err := f.r.Join(ctx, ac, "lobby")
	require.NoError(t, err)
	var joined rooms.Joined
	require.NoError(t, b.Call(ctx, rooms.RouteJoin, rooms.JoinParams{Room: "lobby"}, &joined))
	require.Equal(t, rooms.Joined{}, joined, "a room without history has no position")
	require.Equal(t, 2, f.r.Count("lobby"))

	pos, err := f.r.Emit(ctx, "lobby", map[string]int{"n": 1})
	require.NoError(t, err)
	require.True(t, pos.IsZero())
	require.JSONEq(t, `{"n":1}`, string(testserver.Recv(t, aev, "a's room event")))
	require.JSONEq(t, `{"n":1}`, string(testserver.Recv(t, bev, "b's room event")))
	require.NoError(t, f.srv.Emit(ctx, map[string]int{"all": 1}))
	require.JSONEq(t, `{"all":1}`, string(testserver.Recv(t, oev, "the outsider's first event")), "the outsider got the room's event")
	require.JSONEq(t, `{"all":1}`, string(testserver.Recv(t, aev, "a's broadcast")))

	page, next := f.r.Members("lobby", "", 1)
	require.Len(t, page, 1)
	require.NotEmpty(t, next)
	rest, last := f.r.Members("lobby", next, 10)
	require.Len(t, rest, 1)
	require.Empty(t, last)
	require.NotEqual(t, page[0], rest[0])
	require.Less(t, page[0].ID(), rest[0].ID(), "pages are ordered by connection id")

	require.NoError(t, b.Call(ctx, rooms.RouteLeave, rooms.LeaveParams{Room: "lobby"}, nil))
	require.Equal(t, 1, f.r.Count("lobby"))
	_, err = f.r.Emit(ctx, "lobby", map[string]int{"n": 2})
	require.NoError(t, err)
	require.JSONEq(t, `{"n":2}`, string(testserver.Recv(t, aev, "a's second room event")))
	require.NoError(t, f.srv.Emit(ctx, map[string]int{"all": 2}))
	require.JSONEq(t, `{"all":1}`, string(testserver.Recv(t, bev, "b's broadcast")))
	require.JSONEq(t, `{"all":2}`, string(testserver.Recv(t, bev, "b's second broadcast")), "b got the room's event after leaving")

	require.Equal(t, []string{"lobby"}, f.r.RoomsOf(ac))
	require.NoError(t, a.Close())
	eventually(t, func() bool { return f.r.Count("lobby") == 0 }, "a closed member leaves its room")
	require.Empty(t, f.r.RoomsOf(ac))
}

// TestRoomsJoinRefused: the Authorize function, the room name and the
// per-connection bound each refuse a join with an error type a client can
// match, and the refused join leaves no trace.
func TestRoomsJoinRefused(t *testing.T) { testserver.ForEachEngine(t, testJoinRefused) }

func testJoinRefused(t *testing.T) {
	f := startRooms(t, &rooms.Options{MaxRoomsPerConn: 2, MaxNameLength: 16})
	c, conn, _ := f.dial(t, nil)
	ctx := ctx(t)
	for _, tt := range []struct {
		room, typ string
	}{
		{"secret-plans", rooms.TypePermissionError},
		{"", wsrpc.TypeValueError},
		{"a room", wsrpc.TypeValueError},
		{`quote"d`, wsrpc.TypeValueError},
		{"much-too-long-for-sixteen", wsrpc.TypeValueError},
	} {
		err := c.Call(ctx, rooms.RouteJoin, rooms.JoinParams{Room: tt.room}, nil)
		var we *wsrpc.Error
		require.True(t, errors.As(err, &we), "room %q: %v", tt.room, err)
		require.Equal(t, tt.typ, we.Type, "room %q: %v", tt.room, err)
	}
	for i := range 2 {
		require.NoError(t, c.Call(ctx, rooms.RouteJoin, rooms.JoinParams{Room: fmt.Sprint("r", i)}, nil))
	}
	require.NoError(t, c.Call(ctx, rooms.RouteJoin, rooms.JoinParams{Room: "r0"}, nil), "joining a room again is no new room")
	err := c.Call(ctx, rooms.RouteJoin, rooms.JoinParams{Room: "r2"}, nil)
	var we *wsrpc.Error
	require.True(t, errors.As(err, &we), "%v", err)
	require.Equal(t, rooms.TypeLimitError, we.Type)
	require.Equal(t, []string{"r0", "r1"}, f.r.RoomsOf(conn))
	require.Zero(t, f.r.Count("secret-plans"))
}

// TestRoomsEventShape: an event of a room with history carries its
// position in the "_room" member, which ReadMember reads back; an event
// with a member of that name is refused for such a room; one of a room
// without history is sent as it is.
func TestRoomsEventShape(t *testing.T) { testserver.ForEachEngine(t, testEventShape) }

func testEventShape(t *testing.T) {
	f := startRooms(t, &rooms.Options{History: historyFor("h-")})
	_, conn, ev := f.dial(t, nil)
	ctx := ctx(t)
	_, err := f.r.Join(ctx, conn, "h-1")
	require.NoError(t, err)
	_, err = f.r.Join(ctx, conn, "plain")
	require.NoError(t, err)

	for i, event := range []any{map[string]int{"n": 1}, json.RawMessage(`{ }`)} {
		pos, err := f.r.Emit(ctx, "h-1", event)
		require.NoError(t, err)
		require.Equal(t, uint64(i+1), pos.Offset)
		got := testserver.Recv(t, ev, "the event")
		m, ok := rooms.ReadMember(got)
		require.True(t, ok, "%s", got)
		require.Equal(t, rooms.Mark{Name: "h-1", Epoch: pos.Epoch, Offset: pos.Offset}, m)
		var obj map[string]any
		require.NoError(t, json.Unmarshal(got, &obj), "%s", got)
	}
	_, err = f.r.Emit(ctx, "h-1", map[string]any{"_room": 1})
	require.ErrorIs(t, err, rooms.ErrReservedMember)
	_, err = f.r.Emit(ctx, "plain", map[string]any{"_room": 1})
	require.NoError(t, err)
	require.JSONEq(t, `{"_room":1}`, string(testserver.Recv(t, ev, "the plain room's event")))
	_, err = f.r.Emit(ctx, "h-1", map[string]int{"id": 1})
	require.ErrorIs(t, err, wsrpc.ErrNotEvent)
}

// historyFor keeps the default history in the rooms whose names start
// with prefix.
func historyFor(prefix string) func(string) *rooms.History {
	return func(room string) *rooms.History {
		if len(room) >= len(prefix) && room[:len(prefix)] == prefix {
			return &rooms.History{}
		}
		return nil
	}
}

// TestRoomsSlowMember: a member that stops reading holds up no other: it
// is closed by its own send queue (1008) and leaves the room, while the
// member that reads gets every event.
func TestRoomsSlowMember(t *testing.T) { testserver.ForEachEngine(t, testSlowMember) }

func testSlowMember(t *testing.T) {
	f := startRooms(t, &rooms.Options{History: historyFor("h-")}, func(o *server.Options) {
		o.MaxSendQueueBytes = 64 << 10
	})
	ctx := ctx(t)
	stalled := testkit.DialRaw(t, f.url) // reads nothing from here on
	stalledConn := testserver.Recv(t, f.connected, "the stalled connection")
	_, reader, ev := f.dial(t, nil)
	for _, c := range []*wsrpc.Conn{stalledConn, reader} {
		for _, room := range []string{"plain", "h-1"} {
			_, err := f.r.Join(ctx, c, room)
			require.NoError(t, err)
		}
	}
	pad := strings.Repeat("x", 1000)
	const total = 400 // 800 KB to each member, far past the stalled one's queue and buffers
	var read atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for read.Load() < 2*total {
			select {
			case <-ev:
				read.Add(1)
			case <-time.After(testserver.WaitTimeout):
				return
			}
		}
	}()
	for i := 1; i <= total; i++ {
		// At the reader's pace: its queue never fills, the stalled one's does.
		eventually(t, func() bool { return read.Load() >= int64(2*(i-8)) }, "the reader keeps up")
		for _, room := range []string{"plain", "h-1"} {
			_, err := f.r.Emit(ctx, room, map[string]any{"n": i, "pad": pad})
			require.NoError(t, err)
		}
	}
	testserver.Closed(t, done, "the reader's events")
	require.Equal(t, int64(2*total), read.Load())
	testserver.Closed(t, stalledConn.Done(), "the stalled member's close")
	require.ErrorIs(t, stalledConn.Err(), wsrpc.ErrSendQueueFull)
	eventually(t, func() bool { return f.r.Count("plain") == 1 && f.r.Count("h-1") == 1 }, "the stalled member leaves its rooms")
	_ = stalled
}
