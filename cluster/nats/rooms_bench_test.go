package nats

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/rooms"
)

// BenchmarkRoomEmit: three nodes on one NATS server with JetStream, ten
// clients on each, all members of the rooms; one event at a time from
// node 0, each waited for until all 30 clients have it. Reported: events
// per second and the p99 from emit to the last delivery, for the
// cluster's Emit to every client (emit, the baseline), a room without
// history (room) and a room with history in JetStream (history); then
// the same ways streamed (-streamed: back to back, events/s until every
// client has them all), in one run:
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
	// Streamed: b.N events back to back from one goroutine (each Emit
	// returning as it does: stored first, with history), until every
	// member has them all.
	for _, w := range ways {
		b.Run(w.name+"-streamed", func(b *testing.B) {
			want := events.Load() + int64(b.N)*3*perNode
			start := time.Now()
			for range b.N {
				if err := w.emit(); err != nil {
					b.Fatal(err)
				}
			}
			for events.Load() < want {
				time.Sleep(100 * time.Microsecond)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
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

// BenchmarkRoomHistoryRead reads 5,000 stored events of a room back from
// JetStream, as a resume of a client away for all of them does, two ways
// taking turns in one run: one request per event (GetMsg, how the
// history was read before: the baseline) and Since, which reads them
// through a consumer in batches. Reported: each way's events/s and the
// ratio batch/one-by-one (higher is faster).
//
//	go test -run '^$' -bench RoomHistoryRead -benchtime 20x ./cluster/nats
func BenchmarkRoomHistoryRead(b *testing.B) {
	const stored = 5000
	n, _ := benchNode(b, startNATSWith(b, true), "n0")
	hist := &rooms.History{MaxEvents: stored, MaxBytes: 1 << 20, MaxAge: time.Hour}
	r, err := n.Rooms(&rooms.Options{History: func(string) *rooms.History { return hist }})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var first rooms.Position
	for i := range stored {
		p, err := r.EmitEncoded(ctx, "h:read", fmt.Appendf(nil, `{"n":%d}`, i))
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			first = p
		}
	}
	be := n.roomsOf.b.Load()
	since := rooms.Position{Epoch: first.Epoch, Offset: first.Offset - 1}
	st, _, err := be.open(ctx, hist)
	if err != nil {
		b.Fatal(err)
	}
	subject := n.subj.roomStored("h:read")
	ways := []func() int{
		func() int { // one request per event
			got := 0
			for seq := since.Offset + 1; ; got++ {
				m, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
				if err != nil {
					return got
				}
				seq = m.Sequence + 1
			}
		},
		func() int { // batches
			evs, _, lost, err := be.Since(ctx, "h:read", since, hist, 1<<30)
			if err != nil || lost {
				b.Fatal(err, lost)
			}
			return len(evs)
		},
	}
	var took [2]time.Duration
	b.ResetTimer()
	for range b.N {
		for i, way := range ways {
			t0 := time.Now()
			if got := way(); got != stored {
				b.Fatalf("way %d read %d events, not %d", i, got, stored)
			}
			took[i] += time.Since(t0)
		}
	}
	perSec := func(d time.Duration) float64 { return float64(b.N*stored) / d.Seconds() }
	b.ReportMetric(perSec(took[0]), "one-by-one-events/s")
	b.ReportMetric(perSec(took[1]), "batch-events/s")
	b.ReportMetric(perSec(took[1])/perSec(took[0]), "batch/one-by-one")
}
