package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// requireTools says whether a missing tool fails the test instead of
// skipping it: under CI (CI=true) or WSRPC_REQUIRE_INTEROP=1, as the other
// JS tests.
func requireTools() bool {
	return os.Getenv("CI") == "true" || os.Getenv("WSRPC_REQUIRE_INTEROP") == "1"
}

// tscPath returns the TypeScript compiler that `npm ci` in interop/js
// installs (make interop-deps), or skips the test (fails it in CI).
func tscPath(t *testing.T) string {
	t.Helper()
	tsc, err := filepath.Abs(filepath.Join("..", "..", "interop", "js", "node_modules", ".bin", "tsc"))
	require.NoError(t, err)
	_, statErr := os.Stat(tsc)
	_, nodeErr := exec.LookPath("node")
	if statErr != nil || nodeErr != nil {
		if requireTools() {
			t.Fatalf("the TypeScript test needs node and `npm ci` in interop/js (make interop-deps): node: %v, tsc: %v", nodeErr, statErr)
		}
		t.Skip("SKIPPED: node or interop/js/node_modules missing: run `make interop-deps`")
	}
	return tsc
}

// tsUse calls every method of the introduction through the generated API,
// and implements the route the server calls (multiply).
const tsUse = `import { bind, expose, type Caller, type Exposer } from "./api";

declare const rpc: Caller & Exposer;
const api = bind(rpc);

export async function main(): Promise<string> {
  const d: number = await api.subtract({ a: 1, b: 9 });
  const ok: boolean = await api.kv.set({ key: "k", value: [1, 2] });
  const v: unknown = await api.kv.get({ key: "k" });
  await api.kv.get({ key: "k", default: 3 });
  await api.kv();
  const m: unknown = await api.multiply_loopback();
  expose(rpc, { multiply: ({ x, y }) => x * y });
  return [d, ok, v, m].join(" ");
}
`

// TestGenTS generates the TypeScript module against a live server and
// type-checks a file using it with tsc --strict: it compiles, and each
// wrong call fails to.
func TestGenTS(t *testing.T) {
	tsc := tscPath(t)
	url := discoverServer(t, introDoc)
	got := cli(t, "", "gen", "ts", url)
	require.Equal(t, exitOK, got.code, got.stderr)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "api.ts"), []byte(got.stdout), 0o644))
	shapes := cli(t, "", "gen", "ts", shapesDoc) // every shape, hostile names
	require.Equal(t, exitOK, shapes.code, shapes.stderr)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "shapes.ts"), []byte(shapes.stdout), 0o644))

	check := func(t *testing.T, files ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 4*wait)
		defer cancel()
		args := append([]string{"--strict", "--noEmit", "--target", "es2022", "--module", "esnext", "--moduleResolution", "bundler"}, files...)
		cmd := exec.CommandContext(ctx, tsc, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "use.ts"), []byte(tsUse), 0o644))
	out, err := check(t, "use.ts", "shapes.ts")
	require.NoError(t, err, out)

	// The wrong calls, one a line in one file (one tsc run): each line must
	// have its own diagnostic.
	wrong := []struct {
		name, call, diag string
	}{
		{"a string for a number", `api.subtract({ a: "1", b: 9 })`, "TS2322"},
		{"a missing required param", `api.kv.set({ key: "k" })`, "TS2741"},
		{"an unknown param", `api.kv.get({ key: "k", nope: 1 })`, "TS2353"},
		{"an unknown method", `api.kv.delete({ key: "k" })`, "TS2339"},
		{"the wrong result type", `api.kv.set({ key: "k", value: 1 }).then((r: string) => r)`, "TS2345"},
		{"a peer route of the wrong shape", `expose(rpc, { multiply: (p: { x: string }) => p.x })`, "TS2322"},
	}
	const head = "import { bind, expose, type Caller, type Exposer } from \"./api\";\ndeclare const rpc: Caller & Exposer;\nconst api = bind(rpc);\n"
	src := head
	for i, w := range wrong {
		src += fmt.Sprintf("export const x%d = %s;\n", i, w.call)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "wrong.ts"), []byte(src), 0o644))
	out, err = check(t, "wrong.ts")
	require.Error(t, err, "tsc accepted every wrong call")
	for i, w := range wrong {
		t.Run(w.name, func(t *testing.T) {
			line := regexp.MustCompile(fmt.Sprintf(`(?m)^wrong\.ts\(%d,\d+\): error %s`, i+4, w.diag))
			require.Regexp(t, line, out, "tsc accepted %s", w.call)
		})
	}
}

// goDriver runs the generated introduction stubs against the server whose
// URL is its argument, exposing multiply through the generated Expose.
const goDriver = `package main

import (
	"context"
	"fmt"
	"os"
	"time"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"

	_ "stubtest/hostileapi"
	"stubtest/introapi"
	_ "stubtest/recursiveapi"
	_ "stubtest/shapesapi"
)

type peer struct{}

func (peer) Multiply(ctx context.Context, p introapi.MultiplyParams) (float64, error) { return p.X * p.Y, nil }

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reg := wsrpc.NewRegistry()
	if err := introapi.Expose(reg, peer{}); err != nil {
		panic(err)
	}
	c, err := client.Dial(ctx, os.Args[1], reg, nil)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	api := introapi.New(c)
	d, err := api.Subtract(ctx, introapi.SubtractParams{A: 1, B: 9})
	if err != nil {
		panic(err)
	}
	ok, err := api.KvSet(ctx, introapi.KvSetParams{Key: "foo", Value: []int{1, 2}})
	if err != nil {
		panic(err)
	}
	v, err := api.KvGet(ctx, introapi.KvGetParams{Key: "foo"})
	if err != nil {
		panic(err)
	}
	def, err := api.KvGet(ctx, introapi.KvGetParams{Key: "none", Default: "x"})
	if err != nil {
		panic(err)
	}
	m, err := api.MultiplyLoopback(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(d, ok, string(v), string(def), string(m))
}
`

// TestGenGo generates stubs against a live server (and for every shape of
// route, hostile names included, every hostile payload and every kind of
// recursive component), vets and builds them in a module of their own and
// runs them against the server.
func TestGenGo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("SKIPPED: no go command")
	}
	url := discoverServer(t, introDoc)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	dir := t.TempDir()
	write := func(name, content string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	got := cli(t, "", "gen", "go", "-package", "introapi", url)
	require.Equal(t, exitOK, got.code, got.stderr)
	write("introapi/api.go", got.stdout)
	got = cli(t, "", "gen", "go", shapesDoc, "-package", "shapesapi") // flags after the source too
	require.Equal(t, exitOK, got.code, got.stderr)
	write("shapesapi/api.go", got.stdout)
	for name, src := range hostileGoFiles(t) {
		write(name, src)
	}
	write("main.go", goDriver)
	write("go.mod", "module stubtest\n\ngo 1.26.8\n\nrequire github.com/wsrpc/wsrpc-go v0.0.0\n\nreplace github.com/wsrpc/wsrpc-go => "+root+"\n")
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	require.NoError(t, err)
	write("go.sum", string(sum))

	ctx, cancel := context.WithTimeout(context.Background(), 12*wait)
	defer cancel()
	run := func(args ...string) string {
		cmd := exec.CommandContext(ctx, goTool, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "go %v:\n%s", args, out)
		return string(out)
	}
	run("vet", "./...")
	out := run("run", ".", url)
	require.Equal(t, `-8 true [1,2] "x" 200`+"\n", out)
}
