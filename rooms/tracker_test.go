package rooms_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/internal/testkit"
	"github.com/wsrpc/wsrpc-go/internal/testserver"
	"github.com/wsrpc/wsrpc-go/rooms"
)

// dialTracked dials url with Reconnect and a tracker reporting to s.
func dialTracked(t *testing.T, url string, s *testkit.Seen) (*client.Client, *rooms.Tracker) {
	t.Helper()
	tr := rooms.NewTracker(s.Options())
	opts := &client.Options{
		Reconnect:        true,
		ReconnectMinWait: 5 * time.Millisecond,
		ReconnectMaxWait: 50 * time.Millisecond,
	}
	opts.KeepaliveInterval = -1
	tr.Install(&opts.Options)
	return dialClient(t, url, opts), tr
}

// followThroughProxy serves rooms made with opts and dials them, through
// a proxy the test cuts, with a client whose tracker follows room and
// reports to s.
func followThroughProxy(t *testing.T, opts *rooms.Options, room string) (*fixture, *testkit.CutProxy, *testkit.Seen, *rooms.Tracker) {
	t.Helper()
	f := startRooms(t, opts)
	proxy, url := testkit.NewCutProxy(t, f.url)
	s := testkit.NewSeen()
	c, tr := dialTracked(t, url, s)
	_, err := tr.Join(ctx(t), c, room)
	require.NoError(t, err)
	return f, proxy, s, tr
}

// TestTrackerCutMidStream: a client whose TCP connection is reset in the
// middle of 10,000 events of a room with history reconnects, resumes, and
// hands the application all 10,000 exactly once, in order, without a
// loss.
func TestTrackerCutMidStream(t *testing.T) { testserver.ForEachEngine(t, testCutMidStream) }

func testCutMidStream(t *testing.T) {
	const total = 10000
	f, proxy, s, _ := followThroughProxy(t, &rooms.Options{History: func(string) *rooms.History {
		return &rooms.History{MaxEvents: total}
	}}, "stream")
	ctx := ctx(t)

	emitted := make(chan error, 1)
	go func() {
		for i := 1; i <= total; i++ {
			if _, err := f.r.Emit(ctx, "stream", map[string]int{"n": i}); err != nil {
				emitted <- err
				return
			}
			if i%500 == 0 {
				time.Sleep(time.Millisecond) // a stream, not one burst
			}
		}
		emitted <- nil
	}()
	s.WaitFor(t, "the first 2,000 events", testserver.WaitTimeout, func(ns []int, _ []rooms.Position) bool { return len(ns) >= 2000 })
	cutAt := s.Count()
	proxy.Cut()
	require.NoError(t, testserver.Recv(t, emitted, "the emitter"))
	s.WaitFor(t, "all 10,000 events", testserver.WaitTimeout, func(ns []int, _ []rooms.Position) bool { return len(ns) >= total })
	s.RequireOnceInOrder(t, total, fmt.Sprintf("cut after %d events", cutAt))
	require.Less(t, cutAt, total, "the cut came after the stream ended")
}

// TestTrackerLost: when the history no longer reaches back to what the
// client saw, OnLost says so, before the events that follow it, with the
// room's position: the epoch it had, when events were dropped; a new one,
// when the server restarted.
func TestTrackerLost(t *testing.T) { testserver.ForEachEngine(t, testTrackerLost) }

func testTrackerLost(t *testing.T) {
	hist := &rooms.Options{History: func(string) *rooms.History { return &rooms.History{MaxEvents: 5} }}
	f, proxy, s, tr := followThroughProxy(t, hist, "r")
	ctx := ctx(t)
	emit := func(f *fixture, n int) rooms.Position {
		pos, err := f.r.Emit(ctx, "r", map[string]int{"n": n})
		require.NoError(t, err)
		return pos
	}
	first := emit(f, 1)
	s.WaitFor(t, "the first event", testserver.WaitTimeout, func(ns []int, _ []rooms.Position) bool { return len(ns) == 1 })

	// Away while 20 events pass through a history of 5.
	proxy.SetRefuse(true)
	proxy.Cut()
	eventually(t, func() bool { return f.r.Count("r") == 0 }, "the cut member leaves")
	var pos rooms.Position
	for n := 2; n <= 21; n++ {
		pos = emit(f, n)
	}
	proxy.SetRefuse(false)
	s.WaitFor(t, "the loss", testserver.WaitTimeout, func(_ []int, lost []rooms.Position) bool { return len(lost) == 1 })
	eventually(t, func() bool { return f.r.Count("r") == 1 }, "the client is back in the room")
	emit(f, 22)
	s.WaitFor(t, "the event after the loss", testserver.WaitTimeout, func(ns []int, _ []rooms.Position) bool { return len(ns) == 2 })
	ns, lost := s.Snapshot()
	require.Equal(t, []rooms.Position{pos}, lost, "the loss names the room's position, in the same epoch")
	require.Equal(t, []int{1, 22}, ns)

	// The server restarts: a new process, a new epoch.
	g := startRooms(t, hist)
	proxy.Retarget(g.url)
	proxy.Cut()
	s.WaitFor(t, "the loss on the new server", testserver.WaitTimeout, func(_ []int, lost []rooms.Position) bool { return len(lost) == 2 })
	eventually(t, func() bool { return g.r.Count("r") == 1 }, "the client is in the new server's room")
	next := emit(g, 23)
	s.WaitFor(t, "the first event of the new server", testserver.WaitTimeout, func(ns []int, _ []rooms.Position) bool { return len(ns) == 3 })
	ns, lost = s.Snapshot()
	require.NotEqual(t, first.Epoch, next.Epoch)
	require.Equal(t, rooms.Position{Epoch: next.Epoch}, lost[1], "the loss names the new epoch")
	require.Equal(t, []int{1, 22, 23}, ns)
	p, ok := tr.Position("r")
	require.True(t, ok)
	require.Equal(t, next, p)
}

// dialClient dials url within 5 s and closes the client when the test
// ends.
func dialClient(t *testing.T, url string, opts *client.Options) *client.Client {
	t.Helper()
	c, err := client.Dial(ctx(t), url, wsrpc.NewRegistry(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestTrackerOrdersEvents: what a tracker hands on of a sequence of
// events as a server (or a cluster delivering at least once) may send
// them: duplicates dropped by position, a loss reported once, in order,
// and events of no followed room passed on or dropped.
func TestTrackerOrdersEvents(t *testing.T) {
	ev := func(room, epoch string, off uint64, n int) string {
		return fmt.Sprintf(`{"_room":{"name":%q,"epoch":%q,"offset":%d},"n":%d}`, room, epoch, off, n)
	}
	mark := func(epoch string, off uint64, lost bool) string {
		return fmt.Sprintf(`{"_room":{"name":"r","epoch":%q,"offset":%d,"joined":true,"lost":%t}}`, epoch, off, lost)
	}
	for _, tt := range []struct {
		name   string
		events []string
		want   []string // "n=…", "lost@epoch:offset", "plain"
	}{
		{"in order", []string{mark("e", 0, false), ev("r", "e", 1, 1), ev("r", "e", 2, 2)}, []string{"n=1", "n=2"}},
		{"a replay overlapping", []string{ev("r", "e", 1, 1), ev("r", "e", 2, 2), ev("r", "e", 1, 1), ev("r", "e", 2, 2), ev("r", "e", 3, 3)}, []string{"n=1", "n=2", "n=3"}},
		{"a mark behind", []string{ev("r", "e", 5, 5), mark("e", 3, false), ev("r", "e", 4, 4), ev("r", "e", 6, 6)}, []string{"n=5", "n=6"}},
		{"lost", []string{ev("r", "e", 1, 1), mark("e", 9, true), ev("r", "e", 10, 10)}, []string{"n=1", "lost@e:9", "n=10"}},
		{"a new epoch without a mark", []string{ev("r", "e", 7, 7), ev("r", "f", 1, 1)}, []string{"n=7", "lost@f:0", "n=1"}},
		{"another room, and none", []string{ev("other", "e", 1, 1), `{"n":0}`, ev("r", "e", 1, 1)}, []string{"plain", "n=1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			tr := rooms.NewTracker(rooms.TrackerOptions{
				OnEvent: func(_ string, _ rooms.Position, ev json.RawMessage) {
					var body struct{ N int }
					require.NoError(t, json.Unmarshal(ev, &body))
					got = append(got, fmt.Sprint("n=", body.N))
				},
				OnLost: func(_ string, pos rooms.Position) {
					got = append(got, fmt.Sprintf("lost@%s:%d", pos.Epoch, pos.Offset))
				},
			})
			opts := wsrpc.Options{OnEvent: func(*wsrpc.Conn, json.RawMessage) { got = append(got, "plain") }}
			tr.Install(&opts)
			_, _ = tr.Join(context.Background(), refuseCalls{}, "r") // follows "r" though the call fails
			_, _ = tr.Join(context.Background(), acceptCalls{}, "r")
			for _, e := range tt.events {
				opts.OnEvent(nil, json.RawMessage(e))
			}
			require.Equal(t, tt.want, got)
		})
	}
}

// acceptCalls answers every call with null; refuseCalls fails them.
type acceptCalls struct{}

func (acceptCalls) Call(context.Context, string, any, any) error { return nil }

type refuseCalls struct{}

func (refuseCalls) Call(context.Context, string, any, any) error { return wsrpc.ErrClosed }
