package nats

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/rooms"
)

// BenchmarkRoomEmit: three nodes on one NATS server with JetStream, ten
// clients on each, all members of the rooms; one event at a time from
// node 0, each waited for until all 30 clients have it. Reported: events
// per second and the p99 from emit to the last delivery, for the
// cluster's Emit to every client (emit, the baseline), a room without
// history (room) and a room with history in JetStream (history), in one
// run:
//
//	go test -run '^$' -bench RoomEmit -benchtime 2000x ./cluster/nats
func BenchmarkRoomEmit(b *testing.B) {
	natsURL := startNATSWith(b, true)
	const perNode = 10
	var nodes []*Node
	var rs []*rooms.Rooms
	var events atomic.Int64
	for i := range 3 {
		n, wsURL := benchNode(b, natsURL, fmt.Sprintf("n%d", i))
		r, err := n.Rooms(historyOpts)
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Routes(n.Server().Registry(), func(context.Context, *wsrpc.Conn, string) error { return nil }); err != nil {
			b.Fatal(err)
		}
		nodes, rs = append(nodes, n), append(rs, r)
		for k := range perNode {
			benchRoomClient(b, wsURL, fmt.Sprintf("n%d-%d", i, k), &events)
		}
	}
	for _, n := range nodes {
		if err := n.NATS().Flush(); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	msg := []byte(`{"k":1}`)
	ways := []struct {
		name string
		emit func() error
	}{
		{"emit", func() error { return nodes[0].EmitEncoded(ctx, msg) }},
		{"room", func() error { _, err := rs[0].EmitEncoded(ctx, "lobby", msg); return err }},
		{"history", func() error { _, err := rs[0].EmitEncoded(ctx, "h:lobby", msg); return err }},
	}
	for _, w := range ways {
		b.Run(w.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			start := time.Now()
			for range b.N {
				want := events.Load() + 3*perNode
				t0 := time.Now()
				if err := w.emit(); err != nil {
					b.Fatal(err)
				}
				for events.Load() < want {
					time.Sleep(20 * time.Microsecond)
				}
				lat = append(lat, time.Since(t0))
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// benchRoomClient connects a client that joins "lobby" and "h:lobby" and
// counts the events it receives (the emit way reaches it without).
func benchRoomClient(b *testing.B, url, id string, events *atomic.Int64) {
	b.Helper()
	c := benchClient(b, url, id, events)
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	for _, room := range []string{"lobby", "h:lobby"} {
		if err := c.Call(ctx, rooms.RouteJoin, rooms.JoinParams{Room: room}, nil); err != nil {
			b.Fatal(err)
		}
	}
}
