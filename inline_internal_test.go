package wsrpc

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInlineBudgetSampling pins which inline calls are timed against
// InlineBudget (see inlineStep): a route slow on every call is demoted by
// its second call, and a slow route called in turn with fast ones, in any
// short repeating pattern, within a few dozen of its calls; a route that
// keeps within the budget is never demoted.
func TestInlineBudgetSampling(t *testing.T) {
	const budget = time.Millisecond
	for _, tt := range []struct {
		name     string
		period   int // one call in period is the slow route's
		phase    int // its place in the period
		within   int // the slow route's calls by which it is demoted
		slowCall bool
	}{
		{name: "slow on every call", period: 1, within: 2, slowCall: true},
		{name: "fast, slow", period: 2, phase: 1, within: 8, slowCall: true},
		{name: "slow, fast", period: 2, within: 8, slowCall: true},
		{name: "fast, fast, slow", period: 3, phase: 2, within: 8, slowCall: true},
		{name: "one in 4, first", period: 4, within: 16, slowCall: true},
		{name: "one in 8, last", period: 8, phase: 7, within: 24, slowCall: true},
		{name: "one in 7, second", period: 7, phase: 1, within: 40, slowCall: true},
		{name: "within the budget", period: 2, within: 64},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reg := NewRegistry()
			reg.MustAdd("fast", Inline(func(ctx context.Context) bool { return true }))
			sleep := time.Duration(0)
			if tt.slowCall {
				sleep = 3 * budget
			}
			reg.MustAdd("slow", Inline(func(ctx context.Context) bool {
				time.Sleep(sleep)
				return true
			}))
			fr, _, _, ok := reg.lookup("slow")
			require.True(t, ok)
			tr := &budgetTransport{}
			c := NewConn(tr, ConnConfig{Role: RoleServer, Registry: reg, BatchedReads: true,
				Options: &Options{InlineBudget: budget}})
			t.Cleanup(func() { _ = c.Close() })
			slowCalls := 0
			for i := 0; slowCalls < tt.within && fr.inline.on.Load(); i++ {
				method := "fast"
				if i%tt.period == tt.phase {
					method = "slow"
					slowCalls++
				}
				c.HandleMessage(fmt.Appendf(nil, `{"id":%d,"method":%q}`, i+1, method))
				require.NoError(t, c.Flush(true))
			}
			require.Equal(t, !tt.slowCall, fr.inline.on.Load(),
				"the slow route is demoted within %d of its calls", tt.within)
		})
	}
}
