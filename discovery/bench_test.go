package discovery_test

import (
	"testing"

	"github.com/wsrpc/wsrpc-go/discovery"
	"github.com/wsrpc/wsrpc-go/examples/introduction/intro"
)

// BenchmarkDocument is what making the document costs (at Register, and
// after a change of the registry); BenchmarkDiscoverCached in
// cache_internal_test.go is what a call of rpc.discover costs otherwise.
func BenchmarkDocument(b *testing.B) {
	reg := intro.ServerRoutes()
	opts := &discovery.Options{Peer: intro.ClientRoutes()}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := discovery.Document(reg, opts); err != nil {
			b.Fatal(err)
		}
	}
}
