package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wsrpc/wsrpc-go/openrpc"
)

// hostilePayloads are names and texts a server's document may hold to
// break out of where the generators put them: a string literal, a comment,
// a type, an identifier, a tuple label; to reach a terminal or an editor as
// controls; or to shadow a name the generated code relies on. Each payload
// that would run code sets globalThis.pwned or globalThis.X.
var hostilePayloads = []string{
	"a: string]; (globalThis as any).X = 1; type Z = [b", // a by-position param's tuple label
	"b: string, ...c: any[]]; (globalThis as any).X = 1; type Y = [d",
	"*/ globalThis.pwned = 1; /*",
	`"; globalThis.pwned = 1; "`,
	`'; globalThis.pwned = 1; '`,
	"`; globalThis.pwned = 1; `",
	"${globalThis.pwned = 1}",
	"\u2028globalThis.pwned = 1; //",
	"\u2029globalThis.pwned = 1; //",
	"\nglobalThis.pwned = 1; //",
	"\r\nglobalThis.pwned = 1; //",
	"\rglobalThis.pwned = 1; //",
	"}); globalThis.pwned = 1; ({",
	"</script><script>globalThis.pwned = 1</script>",
	"<!-- <script>",
	"nul\x00byte",
	"\x1b]0;title\x07",
	"\x1b[2J\x1b[H",
	"\u009b31m-c1-csi",
	"\u009d0;c1-osc\u009c",
	"\u202egnp.exe",
	"\u2066isolate\u2069",
	"\ufeffbom",
	"del\x7f",
	"tag\U000e0041",
	"trailing\\",
	"__proto__",
	"constructor",
	"Promise",
	"Array",
	"Record",
	"Object",
	"default",
	"await",
	"string",
	"any",
	"func",
	"\n}\nfunc init() { panic(\"pwned\") }\n//",
	"`json:\"x\"` ; func init() {}",
	"go:generate rm -rf /",
}

// hostileDoc puts every payload in every place a document has text: the
// info, method and param names and docs (by name and by position), the
// names, docs and properties of components (each refers to itself), enum
// and const values, error types; and the same methods as peer methods.
func hostileDoc(t testing.TB, payloads []string) []byte {
	var methods []openrpc.Method
	schemas := map[string]json.RawMessage{}
	raw := func(v any) json.RawMessage {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return b
	}
	for _, p := range payloads {
		ref := openrpc.SchemaRefPrefix + p
		methods = append(methods, openrpc.Method{
			Name: p, Description: p, ParamStructure: openrpc.ByName,
			Params: []openrpc.ContentDescriptor{
				{Name: p, Description: p, Required: true, Schema: raw(map[string]any{"type": "string", "description": p, "enum": []string{p, "ok"}})},
				{Name: "q" + p, Schema: raw(map[string]any{"$ref": ref})},
			},
			Result: &openrpc.ContentDescriptor{Name: p, Schema: raw(map[string]any{"const": p})},
			Errors: []openrpc.Error{{Code: -32000, Message: p, Data: &openrpc.ErrorData{Type: p}}},
		}, openrpc.Method{
			Name: p + ".pos", Description: p, ParamStructure: openrpc.ByPosition,
			Params: []openrpc.ContentDescriptor{
				{Name: p, Required: true, Schema: raw(map[string]any{"type": "string"})},
				{Name: p, Required: true, Schema: raw(map[string]any{"$ref": ref})},
			},
			Result: &openrpc.ContentDescriptor{Name: "r", Schema: raw(map[string]any{"type": "object", "additionalProperties": map[string]any{"$ref": ref}})},
		})
		schemas[p] = raw(map[string]any{
			"type": "object", "description": p,
			"properties": map[string]any{
				p:      map[string]any{"type": "string", "description": p},
				"self": map[string]any{"$ref": ref},
			},
			"required": []string{"self"},
		})
	}
	all := strings.Join(payloads, " ")
	return raw(openrpc.Document{
		OpenRPC:     openrpc.Version,
		Info:        openrpc.Info{Title: all, Version: all, Description: all},
		Methods:     methods,
		Components:  &openrpc.Components{Schemas: schemas},
		PeerMethods: methods,
	})
}

// noHiddenRunes fails when generated code holds a character hidden()
// would escape (newlines aside).
func noHiddenRunes(t *testing.T, what, src string) {
	t.Helper()
	for i, r := range src {
		if r != '\n' && hidden(r) {
			t.Fatalf("%s holds %U raw at byte %d: %q", what, r, i, src[max(0, i-40):min(len(src), i+40)])
		}
	}
}

// TestGenHostileNames runs each payload alone through both generators: the
// Go parses and declares only what the generator declares (no init, no
// main), names that are not identifiers become identifiers, and no
// control, format or line-separator character reaches either output raw.
func TestGenHostileNames(t *testing.T) {
	for i, p := range hostilePayloads {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			d, err := openrpc.Parse(hostileDoc(t, []string{p}))
			require.NoError(t, err)
			a, err := newAPI(d)
			require.NoError(t, err)
			ts := genTS(a)
			noHiddenRunes(t, "gen ts", ts)
			src, err := genGo(a, "p")
			require.NoError(t, err, "payload %q", p)
			noHiddenRunes(t, "gen go", string(src))

			checkGoDecls(t, src)
			// The wire names stay whole, as string literals.
			require.Contains(t, string(src), strconv.Quote(p+".pos"))
			require.Contains(t, ts, tsQuote(p+".pos"))
			for _, id := range []string{"Promise", "Array", "Record", "Object"} {
				require.NotContains(t, ts, "export interface "+id+" ", "a component shadows the global %s", id)
				require.NotContains(t, ts, "export type "+id+" ", "a component shadows the global %s", id)
			}
		})
	}
}

// tsImport imports the compiled module, calls every method of bind(rpc)
// with a fake rpc and exposes a routes object answering any name; it
// prints what the module left on globalThis and the method names it
// called and registered.
const tsImport = `const before = new Set(Object.getOwnPropertyNames(globalThis));
const api = require(process.argv[2]);
const calls = [], routes = [];
const rpc = {
  call(method) { calls.push(method); return Promise.resolve(null); },
  addRoute(route) { routes.push(route); },
};
const seen = new Set();
function walk(v) {
  if (v === null || (typeof v !== "object" && typeof v !== "function") || seen.has(v)) return;
  seen.add(v);
  if (typeof v === "function") v();
  for (const k of Object.getOwnPropertyNames(v)) {
    if (typeof v === "function" && ["length", "name", "prototype"].includes(k)) continue;
    walk(v[k]);
  }
}
walk(api.bind(rpc));
if (api.expose) api.expose(rpc, new Proxy({}, { get: () => () => null }));
const added = Object.getOwnPropertyNames(globalThis).filter((k) => !before.has(k));
console.log(JSON.stringify({ added, calls, routes }));
`

// TestGenTSHostile compiles the modules of a document holding the tuple
// label injection alone, of one holding every payload, and of every kind
// of recursive component with tsc --strict; imports each under Node and
// calls all of it: nothing runs but the generated code (globalThis gains
// nothing), and each method is called and each peer route registered under
// its exact wire name.
func TestGenTSHostile(t *testing.T) {
	tsc := tscPath(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "import.js"), []byte(tsImport), 0o644))
	for _, tt := range []struct {
		name string
		doc  []byte
	}{
		{"injection", injectionDoc},
		{"hostile", hostileDoc(t, hostilePayloads)},
		{"recursive", recursiveDoc()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d, err := openrpc.Parse(tt.doc)
			require.NoError(t, err)
			a, err := newAPI(d)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, tt.name+".ts"), []byte(genTS(a)), 0o644))

			ctx, cancel := context.WithTimeout(context.Background(), 6*wait)
			defer cancel()
			cmd := exec.CommandContext(ctx, tsc, "--strict", "--target", "es2022", "--module", "commonjs", "--outDir", "out", tt.name+".ts")
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "tsc --strict:\n%s", out)

			cmd = exec.CommandContext(ctx, "node", "import.js", "./out/"+tt.name+".js")
			cmd.Dir = dir
			out, err = cmd.CombinedOutput()
			require.NoError(t, err, "node:\n%s", out)
			var got struct {
				Added, Calls, Routes []string
			}
			require.NoError(t, json.Unmarshal(out, &got), "%s", out)
			require.Empty(t, got.Added, "importing and calling the module changed globalThis")
			wire := func(ms []openrpc.Method) []string {
				names := []string{}
				for _, m := range ms {
					names = append(names, m.Name)
				}
				return names
			}
			require.ElementsMatch(t, wire(d.Methods), got.Calls, "bind's methods call their wire names")
			require.Equal(t, wire(d.PeerMethods), got.Routes, "expose registers the peer methods under their wire names")
		})
	}
}

// injectionDoc is the attack as found: one by-position param whose name
// closes the tuple type and adds a statement.
var injectionDoc = docJSON(`{"name":"m","paramStructure":"by-position","params":[{"name":"a: string]; (globalThis as any).X = 1; type Z = [b","required":true,"schema":{"type":"string"}}],"result":{"name":"r","schema":{"type":"null"}}}`, "")

// mustAPI reads a document for the generators.
func mustAPI(t testing.TB, doc []byte) *api {
	t.Helper()
	d, err := openrpc.Parse(doc)
	require.NoError(t, err)
	a, err := newAPI(d)
	require.NoError(t, err)
	return a
}

// hostileGoFiles are the generated packages TestGenGo builds beside the
// introduction's: every payload, and every kind of recursive component.
func hostileGoFiles(t *testing.T) map[string]string {
	files := map[string]string{}
	for pkg, doc := range map[string][]byte{"hostileapi": hostileDoc(t, hostilePayloads), "recursiveapi": recursiveDoc()} {
		src, err := genGo(mustAPI(t, doc), pkg)
		require.NoError(t, err)
		files[fmt.Sprintf("%s/api.go", pkg)] = string(src)
	}
	return files
}

// TestGoPackageName: a package name made from a title is never a keyword
// or a predeclared identifier, which would shadow it where imported.
func TestGoPackageName(t *testing.T) {
	for title, want := range map[string]string{
		"wsrpc introduction": "wsrpcintroduction", "": "api", "123": "api", "2fa API": "faapi",
		"func": "api", "string": "api", "nil": "api", "len": "api", "any": "api", "Ünïcode": "ncode",
	} {
		require.Equal(t, want, goPackageName(title), "title %q", title)
	}
}
