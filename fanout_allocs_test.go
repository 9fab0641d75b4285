package wsrpc

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/wsrpc/wsrpc-go/internal/race"
)

// countingTransport counts the messages written to it, from any goroutine.
type countingTransport struct{ n *atomic.Int64 }

func (t countingTransport) WriteMessages(msgs [][]byte) error {
	t.n.Add(int64(len(msgs)))
	return nil
}
func (t countingTransport) Close(code int, reason string) error { return nil }

// TestFanOutAllocsPerRecipient pins what a recipient of EmitEncodedAll
// costs in allocations, the writes included: nothing once the send queues'
// buffers are pooled, and one allocation (its queue's buffers) right after
// a GC emptied the pool (and a little of the other pools it emptied).
// What a fan-out allocates for itself does not grow with its recipients,
// so it cancels out of the difference of two sizes.
func TestFanOutAllocsPerRecipient(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector allocates")
	}
	msg, err := EncodeEvent(map[string]int{"n": 1})
	require.NoError(t, err)
	fanOut := func(size int, gc bool) float64 {
		var written atomic.Int64
		conns := make([]*Conn, size)
		for i := range conns {
			conns[i] = NewConn(countingTransport{&written}, ConnConfig{Role: RoleServer})
		}
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		want := int64(0)
		return testing.AllocsPerRun(50, func() {
			if gc {
				runtime.GC()
				runtime.GC() // the pool's victim cache too
			}
			require.Equal(t, size, EmitEncodedAll(conns, msg, nil))
			want += int64(size)
			deadline := time.Now().Add(5 * time.Second)
			for written.Load() < want && time.Now().Before(deadline) {
				runtime.Gosched()
			}
		})
	}
	for _, tt := range []struct {
		name string
		gc   bool
		max  float64 // allocations per recipient
	}{
		{"pooled", false, 0.01},
		{"after a GC", true, 1.25},
	} {
		t.Run(tt.name, func(t *testing.T) {
			small, large := fanOut(8, tt.gc), fanOut(72, tt.gc)
			per := (large - small) / 64
			t.Logf("allocations per fan-out: %.2f to 8 connections, %.2f to 72; %.3f per recipient", small, large, per)
			require.LessOrEqual(t, per, tt.max)
		})
	}
}
