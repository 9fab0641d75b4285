package discovery_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wsrpc/wsrpc-go/discovery"
	"github.com/wsrpc/wsrpc-go/examples/introduction/intro"
)

//go:generate go test -run TestGoldenDocuments -update .

var update = flag.Bool("update", false, "write the golden documents of cmd/wsrpc/testdata")

// The wsrpc command's tests (root module, which cannot import this one)
// serve these documents from a live server; this test keeps them what
// Register serves. Run go generate (or this test with -update) after a
// change.
func TestGoldenDocuments(t *testing.T) {
	tests := []struct {
		file string
		doc  func() ([]byte, error)
	}{
		{"introduction.openrpc.json", func() ([]byte, error) {
			reg := intro.ServerRoutes()
			opts := &discovery.Options{Title: "wsrpc introduction", Peer: intro.ClientRoutes()}
			discovery.MustRegister(reg, opts)
			return discovery.Document(reg, opts)
		}},
		{"shapes.openrpc.json", func() ([]byte, error) {
			reg := shapes()
			opts := &discovery.Options{Title: "every shape", Peer: shapes()}
			discovery.MustRegister(reg, opts)
			return discovery.Document(reg, opts)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			doc, err := tt.doc()
			require.NoError(t, err)
			var b bytes.Buffer
			require.NoError(t, json.Indent(&b, doc, "", "  "))
			b.WriteByte('\n')
			path := filepath.Join("..", "cmd", "wsrpc", "testdata", tt.file)
			if *update {
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go generate ./discovery/...")
			require.Equal(t, string(want), b.String(), "the golden document is stale: run go generate ./discovery/...")
		})
	}
}
