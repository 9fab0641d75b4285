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
