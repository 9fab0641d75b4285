package main

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"os"
	"testing"

	"github.com/wsrpc/wsrpc-go/openrpc"
)

// FuzzGenerate feeds documents, which come from the network, through
// everything describe and gen do with them: they must never panic; the Go
// they generate must parse and declare nothing but the stubs (no init, no
// main); neither output may hold a control, format or line-separator
// character raw; and every output stays within a constant times the
// document, whatever its shape (the seeds include the worst shapes).
func FuzzGenerate(f *testing.F) {
	b, err := os.ReadFile(introDoc)
	if err != nil {
		f.Fatal(err)
	}
	var seed bytes.Buffer
	if err := json.Compact(&seed, b); err != nil {
		f.Fatal(err)
	}
	f.Add(seed.Bytes())
	f.Add([]byte(`{"openrpc":"1.3.2","info":{"title":"t","version":"1"},"methods":[{"name":"a.b.c","paramStructure":"by-position","params":[{"name":"x","schema":{"type":["string","null"]}}],"result":{"name":"r","schema":{"oneOf":[{"const":1},{"enum":["a",null]}]}}}]}`))
	f.Add([]byte(`{"openrpc":"1.0.0","info":{"title":"","version":""},"methods":[{"name":"` + "`" + `x","params":[{"name":"` + "`" + `","required":true,"schema":{"$ref":"#/components/schemas/` + "`" + `"}}]}],"components":{"schemas":{"` + "`" + `":{"properties":{"` + "`" + `":true}}}}}`))
	f.Add(injectionDoc)
	f.Add(nestedUnionDoc(12))
	f.Add(sameNameDoc(12))
	f.Add(sameFieldDoc(30))
	f.Add(deepNameDoc(40))
	f.Add(recursiveDoc())
	f.Add(hostileDoc(f, hostilePayloads[:8]))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := openrpc.Parse(data)
		if err != nil {
			return
		}
		a, err := newAPI(d)
		if err != nil {
			return
		}
		describe := describeText(a)
		ts := genTS(a)
		src, err := genGo(a, "p")
		if err != nil {
			t.Fatalf("gen go: %v", err)
		}
		for name, n := range map[string]int{"describe": len(describe), "gen ts": len(ts), "gen go": len(src)} {
			if n > maxGrowth*len(data)+64<<10 {
				t.Fatalf("%s wrote %d bytes for a document of %d", name, n, len(data))
			}
		}
		noHiddenRunes(t, "gen ts", ts)
		noHiddenRunes(t, "gen go", string(src))
		checkGoDecls(t, src)
	})
}

// checkGoDecls fails when generated Go does not parse, declares a function
// that runs by itself (init, main) or holds a compiler directive.
func checkGoDecls(t *testing.T, src []byte) {
	t.Helper()
	f, err := parser.ParseFile(gotoken.NewFileSet(), "api.go", src, parser.ParseComments)
	if err != nil {
		t.Fatalf("the generated Go does not parse: %v", err)
	}
	for _, decl := range f.Decls {
		if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv == nil && (fn.Name.Name == "init" || fn.Name.Name == "main") {
			t.Fatalf("the generated Go declares func %s", fn.Name.Name)
		}
	}
	for _, c := range f.Comments {
		for _, l := range c.List {
			if bytes.HasPrefix([]byte(l.Text), []byte("//go:")) || bytes.HasPrefix([]byte(l.Text), []byte("//line ")) {
				t.Fatalf("the generated Go holds a directive: %s", l.Text)
			}
		}
	}
}
