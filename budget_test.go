package wsrpc

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
	"github.com/wsrpc/wsrpc-go/internal/race"
)

// The budgets below were measured; a change that grows them must say why in
// its commit and update the numbers here. Conn and instance are per
// connection (and per struct route of a connection): at a million idle
// connections every word is 8 MB.

// TestBudgetSizes pins the size of the per-connection records.
func TestBudgetSizes(t *testing.T) {
	require.Equal(t, uintptr(224), unsafe.Sizeof(Conn{}), "unsafe.Sizeof(Conn{}): the per-connection engine record")
	require.Equal(t, uintptr(48), unsafe.Sizeof(instance{}), "unsafe.Sizeof(instance{}): a connection's struct-route instance record")
	require.Equal(t, uintptr(32), unsafe.Sizeof(Task{}), "unsafe.Sizeof(Task{}): a goroutine-engine connection's hand-off to the pool (a channel in it would cost 96 bytes more)")
}

// budgetTransport discards what the engine writes, counting the writes.
type budgetTransport struct{ n int }

func (d *budgetTransport) WriteMessages(msgs [][]byte) error   { d.n += len(msgs); return nil }
func (d *budgetTransport) Close(code int, reason string) error { return nil }

// TestBudgetInlineCallAllocs pins an inline call, from its frame to its
// reply handed to the transport, at zero allocations, for a func route and
// a struct route on the fast path.
func TestBudgetInlineCallAllocs(t *testing.T) {
	reg := NewRegistry()
	reg.MustAdd("calc", &benchCalc{})
	res := &benchResult{}
	reg.MustAdd("sub", Inline(func(ctx context.Context, p *benchParams) (*benchResult, error) {
		res.Diff = p.A - p.B
		return res, nil
	}))
	for _, tc := range []struct{ name, method string }{
		{"func", "sub"},
		{"struct", "calc.sub"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &budgetTransport{}
			c := NewConn(tr, ConnConfig{Role: RoleServer, Registry: reg, BatchedReads: true})
			t.Cleanup(func() { _ = c.Close() })
			msg := []byte(`{"id":7,"method":"` + tc.method + `","params":{"a":10,"b":3}}`)
			call := func() {
				c.HandleMessage(msg)
				if err := c.Flush(true); err != nil {
					t.Fatal(err)
				}
			}
			call() // warm up: the instance, the pools
			allocs := testing.AllocsPerRun(200, call)
			require.Equal(t, 1+1+200, tr.n, "one reply per call: the warm-up, AllocsPerRun's own warm-up and the 200 runs")
			if race.Enabled {
				t.Log("allocations not checked under -race (sync.Pool drops items at random)")
				return
			}
			require.Zero(t, allocs, "allocations per inline call")
		})
	}
}

// TestBudgetAsyncFlushAllocs pins the write an event loop asks for with
// Flush(false) (another goroutine writes the replies of a read) at zero
// allocations, the inline call included.
func TestBudgetAsyncFlushAllocs(t *testing.T) {
	reg := NewRegistry()
	res := &benchResult{}
	reg.MustAdd("sub", Inline(func(ctx context.Context, p *benchParams) (*benchResult, error) {
		res.Diff = p.A - p.B
		return res, nil
	}))
	var written atomic.Int64
	c := NewConn(countingTransport{&written}, ConnConfig{Role: RoleServer, Registry: reg, BatchedReads: true})
	t.Cleanup(func() { _ = c.Close() })
	msg := []byte(`{"id":7,"method":"sub","params":{"a":10,"b":3}}`)
	want := int64(0)
	call := func() {
		c.HandleMessage(msg)
		require.NoError(t, c.Flush(false))
		want++
		deadline := time.Now().Add(5 * time.Second)
		for written.Load() < want && time.Now().Before(deadline) {
			runtime.Gosched()
		}
	}
	call() // warm up: the pools and a worker
	allocs := testing.AllocsPerRun(200, call)
	require.Equal(t, want, written.Load(), "every reply written")
	if race.Enabled {
		t.Log("allocations not checked under -race (sync.Pool drops items at random)")
		return
	}
	require.Zero(t, allocs, "allocations per call and asynchronous flush")
}
