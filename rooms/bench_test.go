package rooms_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/internal/testkit"
	"github.com/wsrpc/wsrpc-go/rooms"
	"github.com/wsrpc/wsrpc-go/server"
)

// benchConns is how many loopback connections BenchmarkRoomFanOut sends
// to, as the server's BenchmarkFanOut.
const benchConns = 256

// benchBurst is how many events go out before the sender waits for the
// writes.
const benchBurst = 8

// BenchmarkRoomFanOut sends events to benchConns loopback connections in
// one run, three ways taking turns every burst, so that they share the
// machine's state: the server's EmitEncoded to every client (the
// baseline), Rooms.EmitEncoded to a room every client is in without
// history, and with history (in memory). It reports each way's
// deliveries/s and the two ratios to the baseline (room/emit and
// history/emit, the medians of the rounds': 1.0 is as fast).
//
//	go test -run '^$' -bench RoomFanOut -benchtime 4000x ./rooms
func BenchmarkRoomFanOut(b *testing.B) {
	for _, engine := range []string{server.EngineGoroutine, server.EngineNetpoll} {
		b.Run(engine, func(b *testing.B) { benchRoomFanOut(b, engine) })
	}
}

func benchRoomFanOut(b *testing.B, engine string) {
	r := rooms.New(&rooms.Options{History: historyFor("h-")})
	opts := &server.Options{Engine: engine, Options: wsrpc.Options{KeepaliveInterval: -1}}
	opts.Hooks = r.Hooks()
	srv := server.New(nil, opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	defer ln.Close()
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	readers := testkit.DialReaders(b, "ws://"+ln.Addr().String()+"/", benchConns)
	defer readers.Close()
	testkit.WaitFor(b, func() bool { return len(srv.Clients()) == benchConns })
	conns := srv.Clients()
	ctx := context.Background()
	for _, c := range conns {
		for _, room := range []string{"plain", "h-1"} {
			_, err := r.Join(ctx, c, room)
			require.NoError(b, err)
		}
	}
	settle := func() {
		testkit.WaitFor(b, func() bool {
			for _, c := range conns {
				if c.Stats().SendQueueBytes > 0 {
					return false
				}
			}
			return true
		})
	}
	events := make([][]byte, benchBurst)
	for i := range events {
		events[i], err = wsrpc.EncodeEvent(json.RawMessage(fmt.Sprintf(`{"topic":"tick","seq":"%08d"}`, i)))
		require.NoError(b, err)
	}
	ways := []struct {
		name string
		send func(msg []byte)
		took time.Duration
	}{
		{name: "emit", send: func(msg []byte) {
			if n := srv.EmitEncoded(msg); n != benchConns {
				b.Fatalf("%d of %d took the event", n, benchConns)
			}
		}},
		{name: "room", send: func(msg []byte) {
			if _, err := r.EmitEncoded(ctx, "plain", msg); err != nil {
				b.Fatal(err)
			}
		}},
		{name: "history", send: func(msg []byte) {
			if _, err := r.EmitEncoded(ctx, "h-1", msg); err != nil {
				b.Fatal(err)
			}
		}},
	}
	settle()
	runtime.GC()
	var emitOverRoom, emitOverHistory []float64 // per round
	b.ResetTimer()
	for round := 0; round*benchBurst < b.N; round++ {
		var took [3]time.Duration
		for k := range ways {
			i := (round + k) % len(ways) // each way goes first in turn
			w := &ways[i]
			start := time.Now()
			for _, ev := range events {
				w.send(ev)
			}
			settle()
			took[i] = time.Since(start)
			w.took += took[i]
		}
		emitOverRoom = append(emitOverRoom, took[0].Seconds()/took[1].Seconds())
		emitOverHistory = append(emitOverHistory, took[0].Seconds()/took[2].Seconds())
	}
	b.StopTimer()
	n := float64(len(emitOverRoom) * benchBurst)
	for _, w := range ways {
		b.ReportMetric(n*benchConns/w.took.Seconds(), w.name+"-deliveries/s")
	}
	// Medians of the rounds' ratios: a round that the machine's other
	// work slowed does not move them.
	b.ReportMetric(median(emitOverRoom), "room/emit")
	b.ReportMetric(median(emitOverHistory), "history/emit")
}

func median(xs []float64) float64 {
	slices.Sort(xs)
	return xs[len(xs)/2]
}

// BenchmarkRoomEmit is what Emit to a room of one member costs the
// sender per event, without history and with it (stored in memory, a
// position written into the event), the two taking turns every 64
// events in one run: ns per event of each, and the extra of history.
//
//	go test -run '^$' -bench RoomEmit -benchmem ./rooms
func BenchmarkRoomEmit(b *testing.B) {
	r := rooms.New(&rooms.Options{History: historyFor("h-")})
	var written atomic.Int64
	memberConns(b, r, "plain", 1, &written)
	memberConns(b, r, "h-1", 1, &written)
	msg, err := wsrpc.EncodeEvent(map[string]string{"topic": "tick", "seq": "00000001"})
	require.NoError(b, err)
	ctx := context.Background()
	var took [2]time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += 64 {
		for i, room := range []string{"plain", "h-1"} {
			start := time.Now()
			for range 64 {
				if _, err := r.EmitEncoded(ctx, room, msg); err != nil {
					b.Fatal(err)
				}
			}
			took[i] += time.Since(start)
		}
	}
	b.StopTimer()
	n := float64((b.N + 63) / 64 * 64)
	b.ReportMetric(float64(took[0].Nanoseconds())/n, "ns/event-plain")
	b.ReportMetric(float64(took[1].Nanoseconds())/n, "ns/event-history")
	b.ReportMetric(float64((took[1]-took[0]).Nanoseconds())/n, "ns/event-history-extra")
}

// BenchmarkHistoryMemory reports the heap a room's history holds, per
// room and per event, for 1,000 rooms of 100 events of 40 bytes each.
//
//	go test -run '^$' -bench HistoryMemory -benchtime 1x ./rooms
func BenchmarkHistoryMemory(b *testing.B) {
	const nRooms, perRoom = 1000, 100
	for i := 0; i < b.N; i++ {
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		r := rooms.New(&rooms.Options{History: func(string) *rooms.History { return &rooms.History{} }})
		ctx := context.Background()
		for room := range nRooms {
			name := fmt.Sprint("room-", room)
			for e := range perRoom {
				msg, _ := wsrpc.EncodeEvent(json.RawMessage(fmt.Sprintf(`{"topic":"tick","seq":"%020d"}`, e)))
				if _, err := r.EmitEncoded(ctx, name, msg); err != nil {
					b.Fatal(err)
				}
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		held := float64(m1.HeapAlloc - m0.HeapAlloc)
		b.ReportMetric(held/nRooms, "bytes/room")
		b.ReportMetric(held/(nRooms*perRoom), "bytes/event")
		runtime.KeepAlive(r)
	}
}

// BenchmarkMemberMemory reports the heap a membership holds: 10,000
// connections joining one room (the connections themselves not counted).
//
//	go test -run '^$' -bench MemberMemory -benchtime 1x ./rooms
func BenchmarkMemberMemory(b *testing.B) {
	const n = 10000
	for i := 0; i < b.N; i++ {
		r := rooms.New(nil)
		var written atomic.Int64
		conns := memberConns(b, r, "", n, &written)
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		for _, c := range conns {
			if _, err := r.Join(context.Background(), c, "lobby"); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/n, "bytes/member")
		runtime.KeepAlive(r)
	}
}
