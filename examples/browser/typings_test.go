package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The committed openrpc.json is what the demo's rpc.discover serves.
func TestDocumentCurrent(t *testing.T) {
	want, err := document()
	require.NoError(t, err)
	got, err := os.ReadFile("openrpc.json")
	require.NoError(t, err)
	require.Equal(t, string(want), string(got), "openrpc.json is stale: run make browser-types")
}

// TestTypings checks that api.ts is what `wsrpc gen ts` makes of
// openrpc.json, that api.js is api.ts compiled, and that app.js type-checks
// against them (tsc --checkJs --strict, tsconfig.json).
func TestTypings(t *testing.T) {
	tsc, err := filepath.Abs(filepath.Join("node_modules", ".bin", "tsc"))
	require.NoError(t, err)
	_, statErr := os.Stat(tsc)
	_, nodeErr := exec.LookPath("node")
	if statErr != nil || nodeErr != nil {
		if required() {
			t.Fatalf("the typings test needs node and `npm ci` in examples/browser: node: %v, tsc: %v", nodeErr, statErr)
		}
		t.Skip("SKIPPED: node or examples/browser/node_modules missing: run `npm ci` in examples/browser (make browser-deps)")
	}
	goTool, err := exec.LookPath("go")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := func(name string, args ...string) string {
		cmd := exec.CommandContext(ctx, name, args...)
		out, err := cmd.Output()
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		require.NoError(t, err, "%s %v:\n%s%s", name, args, out, stderr)
		return string(out)
	}

	ts := run(goTool, "run", "github.com/wsrpc/wsrpc-go/cmd/wsrpc", "gen", "ts", "openrpc.json")
	want, err := os.ReadFile("api.ts")
	require.NoError(t, err)
	require.Equal(t, string(want), ts, "api.ts is stale: run make browser-types")

	dir := t.TempDir()
	run(tsc, "--ignoreConfig", "--strict", "--target", "es2022", "--module", "esnext", "--moduleResolution", "bundler", "--outDir", dir, "api.ts")
	js, err := os.ReadFile(filepath.Join(dir, "api.js"))
	require.NoError(t, err)
	committed, err := os.ReadFile("api.js")
	require.NoError(t, err)
	require.Equal(t, string(js), string(committed), "api.js is stale: run make browser-types")

	run(tsc, "-p", "tsconfig.json")
}
