package rooms_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wsrpc/wsrpc-go/internal/testserver"
	"github.com/wsrpc/wsrpc-go/rooms"
)

// next reads the next event of ch and its room member.
func next(t *testing.T, ch chan json.RawMessage, what string) (rooms.Mark, json.RawMessage) {
	t.Helper()
	ev := testserver.Recv(t, ch, what)
	m, ok := rooms.ReadMember(ev)
	require.True(t, ok, "%s: %s has no room member", what, ev)
	return m, ev
}

// TestRoomsResume: a connection that joins with the position of the last
// event it saw gets the events after it, in order, then the mark, then
// the live events; the answer is the position it stands at.
func TestRoomsResume(t *testing.T) { testserver.ForEachEngine(t, testResume) }

func testResume(t *testing.T) {
	f := startRooms(t, &rooms.Options{History: historyFor("h-")})
	a, _, aev := f.dial(t, nil)
	ctx := ctx(t)
	var joined rooms.Joined
	require.NoError(t, a.Call(ctx, rooms.RouteJoin, rooms.JoinParams{Room: "h-r", Marker: true}, &joined))
	m, _ := next(t, aev, "a's mark")
	require.Equal(t, rooms.Mark{Name: "h-r", Epoch: joined.Epoch, Offset: 0, Joined: true}, m)
	require.NotEmpty(t, joined.Epoch)
	for i := 1; i <= 5; i++ {
		pos, err := f.r.Emit(ctx, "h-r", map[string]int{"n": i})
		require.NoError(t, err)
		require.Equal(t, rooms.Position{Epoch: joined.Epoch, Offset: uint64(i)}, pos)
		m, ev := next(t, aev, "a's event")
		require.Equal(t, uint64(i), m.Offset, "%s", ev)
	}

	b, _, bev := f.dial(t, nil)
	var resumed rooms.Joined
	require.NoError(t, b.Call(ctx, rooms.RouteJoin, rooms.JoinParams{
		Room: "h-r", Since: &rooms.Position{Epoch: joined.Epoch, Offset: 2}, Marker: true,
	}, &resumed))
	require.Equal(t, rooms.Joined{Position: rooms.Position{Epoch: joined.Epoch, Offset: 5}}, resumed)
	for i := 3; i <= 5; i++ {
		m, ev := next(t, bev, "a replayed event")
		require.Equal(t, uint64(i), m.Offset, "%s", ev)
		var body struct{ N int }
		require.NoError(t, json.Unmarshal(ev, &body))
		require.Equal(t, i, body.N)
	}
	m, _ = next(t, bev, "b's mark")
	require.Equal(t, rooms.Mark{Name: "h-r", Epoch: joined.Epoch, Offset: 5, Joined: true}, m)
	_, err := f.r.Emit(ctx, "h-r", map[string]int{"n": 6})
	require.NoError(t, err)
	m, _ = next(t, bev, "b's live event")
	require.Equal(t, uint64(6), m.Offset)
	require.Equal(t, 2, f.r.Count("h-r"))
}

// TestRoomsResumeLost: a resume from before what the history keeps, or
// from another epoch, is answered Lost with the room's position, without
// a replay, and the mark says so before the next live event; a resume
// from inside what it keeps replays.
func TestRoomsResumeLost(t *testing.T) { testserver.ForEachEngine(t, testResumeLost) }

func testResumeLost(t *testing.T) {
	f := startRooms(t, &rooms.Options{History: func(string) *rooms.History { return &rooms.History{MaxEvents: 3} }})
	ctx := ctx(t)
	var pos rooms.Position
	for i := 1; i <= 10; i++ {
		var err error
		pos, err = f.r.Emit(ctx, "t", map[string]int{"n": i})
		require.NoError(t, err)
	}
	for _, tt := range []struct {
		name   string
		since  rooms.Position
		lost   bool
		replay []uint64
	}{
		{"trimmed past", rooms.Position{Epoch: pos.Epoch, Offset: 2}, true, nil},
		{"the oldest kept is next", rooms.Position{Epoch: pos.Epoch, Offset: 7}, false, []uint64{8, 9, 10}},
		{"another epoch", rooms.Position{Epoch: "restarted", Offset: 9}, true, nil},
		{"up to date", pos, false, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, conn, ev := f.dial(t, nil)
			var j rooms.Joined
			require.NoError(t, c.Call(ctx, rooms.RouteJoin, rooms.JoinParams{Room: "t", Since: &tt.since, Marker: true}, &j))
			require.Equal(t, rooms.Joined{Position: pos, Lost: tt.lost}, j)
			for _, off := range tt.replay {
				m, _ := next(t, ev, "a replayed event")
				require.Equal(t, off, m.Offset)
			}
			m, _ := next(t, ev, "the mark")
			require.Equal(t, rooms.Mark{Name: "t", Epoch: pos.Epoch, Offset: pos.Offset, Joined: true, Lost: tt.lost}, m)
			f.r.Leave(conn, "t")
		})
	}
}

// TestRoomsResumeRace: a resume while events keep coming gets every
// event after its position exactly once, in order, across the replay and
// the live events: with the default replay chunk (the live events kept
// while it replays are handed over) and with small ones (what is kept
// overflows and the history is read again).
func TestRoomsResumeRace(t *testing.T) { testserver.ForEachEngine(t, testResumeRace) }

func testResumeRace(t *testing.T) {
	for _, chunk := range []int{0, 512} {
		t.Run(fmt.Sprint("chunk=", chunk), func(t *testing.T) { resumeRace(t, chunk) })
	}
}

func resumeRace(t *testing.T, chunk int) {
	const total = 3000
	f := startRooms(t, &rooms.Options{
		History:          func(string) *rooms.History { return &rooms.History{MaxEvents: total} },
		ReplayChunkBytes: chunk,
	})
	ctx := ctx(t)
	first, err := f.r.Emit(ctx, "race", map[string]int{"n": 1})
	require.NoError(t, err)
	emitted := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		for i := 2; i <= total; i++ {
			if _, err := f.r.Emit(ctx, "race", map[string]int{"n": i}); err != nil {
				emitted <- err
				return
			}
			switch {
			case i == 100:
				close(started)
			case i%20 == 0:
				time.Sleep(time.Millisecond) // keep emitting while the join runs
			}
		}
		emitted <- nil
	}()
	<-started
	c, _, ev := f.dial(t, nil)
	require.NoError(t, c.Call(ctx, rooms.RouteJoin, rooms.JoinParams{Room: "race", Since: &first}, nil))
	for want := uint64(2); want <= total; want++ {
		m, raw := next(t, ev, "the next event")
		require.Equal(t, want, m.Offset, "%s", raw)
	}
	require.NoError(t, testserver.Recv(t, emitted, "the emitter"))
}

// emitAfterSince is the one-node backend with an event emitted right
// after each read of the history, before the reader can hand over to
// the live events: the event is in neither the replay nor, unless the
// room layer kept it, anywhere else.
type emitAfterSince struct {
	*rooms.Memory
	mu   sync.Mutex
	emit func()
}

func (b *emitAfterSince) set(emit func()) {
	b.mu.Lock()
	b.emit = emit
	b.mu.Unlock()
}

func (b *emitAfterSince) Since(ctx context.Context, room string, pos rooms.Position, hist *rooms.History, maxBytes int) ([]rooms.Stored, rooms.Position, bool, error) {
	evs, head, lost, err := b.Memory.Since(ctx, room, pos, hist, maxBytes)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.emit != nil {
		b.emit()
	}
	return evs, head, lost, err
}

// TestRoomsResumeHandOver: the events emitted between the last read of
// the history and the join taking effect reach the joining connection,
// after the replay and once.
func TestRoomsResumeHandOver(t *testing.T) { testserver.ForEachEngine(t, testResumeHandOver) }

func testResumeHandOver(t *testing.T) {
	backend := &emitAfterSince{Memory: rooms.NewMemory()}
	f := startRooms(t, &rooms.Options{Backend: backend, History: historyFor("")})
	ctx := ctx(t)
	var since rooms.Position
	for i := 1; i <= 5; i++ {
		pos, err := f.r.Emit(ctx, "r", map[string]int{"n": i})
		require.NoError(t, err)
		if i == 2 {
			since = pos
		}
	}
	c, _, ev := f.dial(t, nil)
	var emits []uint64
	backend.set(func() {
		pos, err := f.r.Emit(ctx, "r", map[string]int{"n": 0})
		require.NoError(t, err)
		emits = append(emits, pos.Offset)
	})
	var j rooms.Joined
	require.NoError(t, c.Call(ctx, rooms.RouteJoin, rooms.JoinParams{Room: "r", Since: &since}, &j))
	backend.set(nil)
	require.NotEmpty(t, emits)
	last := emits[len(emits)-1]
	require.Equal(t, last, j.Offset)
	for want := uint64(3); want <= last; want++ {
		m, raw := next(t, ev, "the next event")
		require.Equal(t, want, m.Offset, "%s", raw)
	}
	_, err := f.r.Emit(ctx, "r", map[string]int{"n": 9})
	require.NoError(t, err)
	m, _ := next(t, ev, "the live event")
	require.Equal(t, last+1, m.Offset)
}
