package discovery

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wsrpc/wsrpc-go/examples/introduction/intro"
)

// The handler answers the same document until the registry changes.
func TestCache(t *testing.T) {
	reg := intro.ServerRoutes()
	c := &cache{reg: reg}
	a, err := c.discover(context.Background())
	require.NoError(t, err)
	b, err := c.discover(context.Background())
	require.NoError(t, err)
	require.Same(t, &a[0], &b[0], "made again without a change")
	reg.MustAdd("x", func() {})
	d, err := c.discover(context.Background())
	require.NoError(t, err)
	require.NotSame(t, &a[0], &d[0])
	require.Contains(t, string(d), `"name":"x"`)
}

func BenchmarkDiscoverCached(b *testing.B) {
	c := &cache{reg: intro.ServerRoutes()}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.discover(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
