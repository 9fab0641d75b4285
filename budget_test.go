package wsrpc

import (
	"context"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// The budgets below were measured; a change that grows them must say why in
// its commit and update the numbers here. Conn and instance are per
// connection (and per struct route of a connection): at a million idle
// connections every word is 8 MB.

// TestBudgetSizes pins the size of the per-connection records.
func TestBudgetSizes(t *testing.T) {
	require.Equal(t, uintptr(272), unsafe.Sizeof(Conn{}), "unsafe.Sizeof(Conn{}): the per-connection engine record")
	require.Equal(t, uintptr(48), unsafe.Sizeof(instance{}), "unsafe.Sizeof(instance{}): a connection's struct-route instance record")
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
			if raceEnabled {
				t.Log("allocations not checked under -race (sync.Pool drops items at random)")
				return
			}
			require.Zero(t, allocs, "allocations per inline call")
		})
	}
}
