package rooms_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/internal/race"
	"github.com/wsrpc/wsrpc-go/rooms"
)

// countingTransport counts the messages written to it.
type countingTransport struct{ n *atomic.Int64 }

func (t countingTransport) WriteMessages(msgs [][]byte) error {
	t.n.Add(int64(len(msgs)))
	return nil
}
func (t countingTransport) Close(int, string) error { return nil }

// memberConns returns n server connections on a counting transport, in
// room of r, closed when the test ends.
func memberConns(t testing.TB, r *rooms.Rooms, room string, n int, written *atomic.Int64) []*wsrpc.Conn {
	conns := make([]*wsrpc.Conn, n)
	for i := range conns {
		conns[i] = wsrpc.NewConn(countingTransport{written}, wsrpc.ConnConfig{Role: wsrpc.RoleServer})
		if room != "" {
			_, err := r.Join(context.Background(), conns[i], room)
			require.NoError(t, err)
		}
	}
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return conns
}

// waitWritten waits until written reaches want.
func waitWrittenCount(written *atomic.Int64, want int64) {
	for deadline := time.Now().Add(5 * time.Second); written.Load() < want && time.Now().Before(deadline); {
		runtime.Gosched()
	}
}

// TestBudgetRoomAllocsPerRecipient pins what a member costs an Emit to
// its room, the writes included: nothing (the fan-out's own allocations
// do not grow with the members, so they cancel out of the difference of
// two sizes), with history and without.
func TestBudgetRoomAllocsPerRecipient(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector allocates")
	}
	for _, hist := range []bool{false, true} {
		t.Run(fmt.Sprint("history=", hist), func(t *testing.T) {
			opts := &rooms.Options{}
			if hist {
				opts.History = func(string) *rooms.History { return &rooms.History{MaxEvents: 16} }
			}
			r := rooms.New(opts)
			msg, err := wsrpc.EncodeEvent(map[string]int{"n": 1})
			require.NoError(t, err)
			emit := func(size int) float64 {
				var written atomic.Int64
				room := fmt.Sprint("room-", size)
				memberConns(t, r, room, size, &written)
				want := int64(0)
				return testing.AllocsPerRun(50, func() {
					_, err := r.EmitEncoded(context.Background(), room, msg)
					require.NoError(t, err)
					want += int64(size)
					waitWrittenCount(&written, want)
				})
			}
			small, large := emit(8), emit(72)
			per := (large - small) / 64
			t.Logf("allocations per emit: %.2f to 8 members, %.2f to 72; %.3f per member", small, large, per)
			require.LessOrEqual(t, per, 0.01)
		})
	}
}

// TestBudgetNoRoomNoCost: a connection in no room costs the room layer
// nothing when it closes (the OnClose hook finds nothing), and rooms
// leave no trace on a connection that left them.
func TestBudgetNoRoomNoCost(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector allocates")
	}
	r := rooms.New(nil)
	var written atomic.Int64
	memberConns(t, r, "busy", 100, &written)
	loner := memberConns(t, r, "", 1, &written)[0]
	onClose := r.Hooks().OnClose
	require.Zero(t, testing.AllocsPerRun(100, func() { onClose(loner, nil) }))
	require.Zero(t, testing.AllocsPerRun(100, func() { _ = r.RoomsOf(loner) }))
	require.Equal(t, 100, r.Count("busy"))
}

// TestHistoryBounds: a room's history keeps what its count, bytes and
// age allow, and a resume from before that is Lost.
func TestHistoryBounds(t *testing.T) {
	for _, tt := range []struct {
		name string
		hist rooms.History
		wait time.Duration
		keep uint64 // events a resume from the start would still get
	}{
		{"count", rooms.History{MaxEvents: 4}, 0, 4},
		{"bytes", rooms.History{MaxBytes: 3 * (48 + 16)}, 0, 3},
		{"age", rooms.History{MaxAge: 30 * time.Millisecond}, 60 * time.Millisecond, 0},
		{"within every bound", rooms.History{}, 0, 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := rooms.New(&rooms.Options{History: func(string) *rooms.History { return &tt.hist }})
			var pos rooms.Position
			for i := range 10 {
				var err error
				pos, err = r.Emit(context.Background(), "r", map[string]string{"n": fmt.Sprintf("%08d", i)}) // 16 bytes
				require.NoError(t, err)
			}
			time.Sleep(tt.wait)
			var written atomic.Int64
			for from := uint64(0); from < 10; from++ {
				c := memberConns(t, r, "", 1, &written)[0]
				j, err := r.Resume(context.Background(), c, "r", rooms.Position{Epoch: pos.Epoch, Offset: from})
				require.NoError(t, err)
				require.Equal(t, 10-from > tt.keep, j.Lost, "from %d", from)
				require.Equal(t, pos, j.Position)
			}
		})
	}
}
