package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wsrpc/wsrpc-go/openrpc"
)

// TestDeepDocuments: a document nested deeper than the connection's default
// MaxDepth (64) reaches describe and gen, which read it when its schemas
// are within openrpc.MaxSchemaDepth and refuse it at once, saying why, when
// they are not, or when it is larger than the limit; it is never dropped
// unanswered for the command to wait out its -timeout (a minute here,
// longer than cli waits).
func TestDeepDocuments(t *testing.T) {
	props := func(n int) string { // n schemas, each the property of the last
		return strings.Repeat(`{"type":"object","properties":{"a":`, n) + `{"type":"string"}` + strings.Repeat("}}", n)
	}
	items := func(n int) string {
		return strings.Repeat(`{"items":`, n) + "true" + strings.Repeat("}", n)
	}
	method := func(schema string) string {
		return `{"name":"m","params":[{"name":"p","required":true,"schema":` + schema + `}],"result":{"name":"r","schema":{"type":"null"}}}`
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name   string
		doc    []byte
		stdout string // describe's, when it succeeds
		stderr string
	}{
		{"schemas 40 deep, JSON over 80", docJSON(method(props(40)), ""), "  m(p): null\n      p: { a?: { a?: ", ""},
		{"schemas over MaxSchemaDepth", docJSON(method(items(openrpc.MaxSchemaDepth+2)), ""), "", "nested deeper than 64"},
		{"JSON over MaxDocumentDepth", docJSON(method(`{"x-deep":`+strings.Repeat("[", 5000)+strings.Repeat("]", 5000)+`}`), ""), "",
			"the document nests arrays and objects deeper than 272 levels"},
		{"larger than the limit", docJSON(`{"name":"m","description":"`+strings.Repeat("x", maxDocument)+`","params":[]}`, ""), "",
			"larger than 4194304 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".json")
			require.NoError(t, os.WriteFile(file, tc.doc, 0o644))
			url := discoverServer(t, file)
			for _, src := range []string{url, file} {
				for _, cmd := range [][]string{{"describe"}, {"gen", "ts"}, {"gen", "go"}} {
					got := cli(t, "", append(append([]string{"-timeout", "1m"}, cmd...), src)...)
					if tc.stderr != "" {
						require.Equal(t, exitUsage, got.code, "%v %s", cmd, got.stdout)
						require.Contains(t, got.stderr, tc.stderr, "%v", cmd)
						continue
					}
					require.Equal(t, exitOK, got.code, "%v: %s", cmd, got.stderr)
					if cmd[0] == "describe" {
						require.Contains(t, got.stdout, tc.stdout)
					}
				}
			}
		})
	}
}
