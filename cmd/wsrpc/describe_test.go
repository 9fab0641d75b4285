package main

import (
	"encoding/json"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wsrpc/wsrpc-go/examples/introduction/intro"
	"github.com/wsrpc/wsrpc-go/server"
)

// The documents the discovery module serves for the introduction's routes
// (and for routes of every shape); discovery's TestGoldenDocuments keeps
// them current (this module cannot import discovery).
const (
	introDoc  = "testdata/introduction.openrpc.json"
	shapesDoc = "testdata/shapes.openrpc.json"
)

// discoverServer serves the introduction's routes on a loopback port, with
// rpc.discover answering the document of file (none when file is "").
func discoverServer(t *testing.T, file string) string {
	t.Helper()
	reg := intro.ServerRoutes()
	if file != "" {
		doc, err := os.ReadFile(file)
		require.NoError(t, err)
		reg.MustAdd("rpc.discover", func() json.RawMessage { return doc })
	}
	srv := server.New(reg, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); _ = ln.Close() })
	return "ws://" + ln.Addr().String() + "/ws/"
}

// signatures returns the signature lines describe printed (two spaces of
// indent; params and docs have six).
func signatures(out string) []string {
	var sigs []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "  ") && !strings.HasPrefix(l, "   ") {
			sigs = append(sigs, strings.TrimSpace(l))
		}
	}
	return sigs
}

func TestDescribe(t *testing.T) {
	url := discoverServer(t, introDoc)
	file, err := os.ReadFile(introDoc)
	require.NoError(t, err)
	want := []string{
		"kv(): null",
		"kv.get(key, default?): unknown",
		"kv.set(key, value): boolean",
		"multiply_loopback(): unknown",
		"ping(params?): Record<string, unknown>",
		"rpc.discover(): unknown",
		"subtract(a, b): number",
		"multiply(x, y): number", // the methods the peer must expose
	}
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
	}{
		{"url", "", []string{"describe", url}},
		{"file", "", []string{"describe", introDoc}},
		{"stdin", string(file), []string{"describe", "-"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := cli(t, tc.stdin, tc.args...)
			require.Equal(t, exitOK, got.code, got.stderr)
			require.Equal(t, want, signatures(got.stdout))
			require.Contains(t, got.stdout, "wsrpc introduction 0.0.0 (OpenRPC 1.3.2)\n")
			require.Contains(t, got.stdout, "  kv.get(key, default?): unknown\n      key: string, default?: unknown\n      Returns the value stored under key")
			require.Contains(t, got.stdout, "\nMethods the peer must expose (it calls them):\n  multiply(x, y): number\n")
		})
	}

	t.Run("json", func(t *testing.T) {
		got := cli(t, "", "describe", "-json", url)
		require.Equal(t, exitOK, got.code, got.stderr)
		require.JSONEq(t, string(file), got.stdout)
	})
	t.Run("declared error types", func(t *testing.T) {
		got := cli(t, "", "describe", shapesDoc)
		require.Equal(t, exitOK, got.code, got.stderr)
		require.Contains(t, got.stdout, "  find(query, limit?, items, when, bytes, next?, Tags, n): Page\n")
		require.Contains(t, got.stdout, "      Finds pages.\n      errors: KeyError\n")
		require.Contains(t, got.stdout, "  minus(arg1, arg2): number\n      arg1: number, arg2: number\n")
	})
}

func TestDescribeFails(t *testing.T) {
	plain := discoverServer(t, "")
	dir := t.TempDir()
	bad := dir + "/bad.json"
	require.NoError(t, os.WriteFile(bad, []byte(`{"openrpc":"2.0.0","info":{},"methods":[]}`), 0o644))
	deep := dir + "/deep.json"
	schema := strings.Repeat(`{"items":`, 100) + "true" + strings.Repeat("}", 100)
	require.NoError(t, os.WriteFile(deep, []byte(`{"openrpc":"1.3.2","info":{"title":"t","version":"1"},"methods":[{"name":"m","params":[],"result":{"name":"r","schema":`+schema+`}}]}`), 0o644))
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"no discovery", []string{"describe", plain}, "does not serve rpc.discover: turn discovery on in the server (discovery.Register)"},
		{"missing file", []string{"describe", dir + "/none.json"}, "no such file"},
		{"not OpenRPC 1", []string{"describe", bad}, `openrpc version is "2.0.0"`},
		{"schema too deep", []string{"describe", deep}, "nested deeper than 64"},
		{"no source", []string{"describe"}, "describe needs exactly one URL or FILE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := cli(t, "", tc.args...)
			require.Equal(t, exitUsage, got.code)
			require.Contains(t, got.stderr, tc.stderr)
		})
	}
}
