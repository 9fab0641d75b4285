package nats

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Nodes started with one name at the same instant: exactly one starts,
// the others fail with ErrNameInUse; a node started later with the name
// is refused too, and the name is free again once its holder closed.
func TestSimultaneousNodeName(t *testing.T) {
	natsURL := startNATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	start := func(name string) (*Node, error) {
		return New(ctx, nil, nil, &Options{Name: name, URL: natsURL, Secret: testSecret})
	}
	for _, tc := range []struct {
		starts, attempts int
	}{{starts: 2, attempts: 12}, {starts: 3, attempts: 4}} {
		t.Run(fmt.Sprintf("%d-at-once", tc.starts), func(t *testing.T) {
			for a := range tc.attempts {
				name := fmt.Sprintf("twin-%d-%d", tc.starts, a)
				nodes := make([]*Node, tc.starts)
				errs := make([]error, tc.starts)
				var wg sync.WaitGroup
				gate := make(chan struct{})
				for i := range tc.starts {
					wg.Go(func() {
						<-gate
						nodes[i], errs[i] = start(name)
						if errs[i] == nil {
							t.Cleanup(func() { _ = nodes[i].Close() })
						}
					})
				}
				close(gate)
				wg.Wait()
				var up *Node
				for i, err := range errs {
					if err != nil {
						require.ErrorIs(t, err, ErrNameInUse, "attempt %d", a)
						require.ErrorContains(t, err, "give each node its own Options.Name")
						continue
					}
					require.True(t, up == nil, "attempt %d: two nodes named %q started", a, name)
					up = nodes[i]
				}
				require.False(t, up == nil, "attempt %d: no node named %q started", a, name)
				_, err := start(name)
				require.ErrorIs(t, err, ErrNameInUse, "a later start while it runs")
				require.ErrorContains(t, err, "is live on NATS")
				require.NoError(t, up.Close())
				again, err := start(name)
				require.NoError(t, err, "the name is free once its node closed")
				require.NoError(t, again.Close())
			}
		})
	}
	// Unsigned claims of the name (a NATS user without the secret) do not
	// keep a node from starting.
	other, err := New(ctx, nil, nil, &Options{Name: "squatted", URL: natsURL, Secret: "another-secret-0123456789"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = other.Close() })
	n, err := start("squatted")
	require.NoError(t, err, "a node of another secret does not hold this cluster's name")
	require.NoError(t, n.Close())
}
