package main

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/wsrpc/wsrpc-go/openrpc"
)

// FuzzGenerate feeds documents, which come from the network, through
// everything describe and gen do with them: they must never panic, and the
// Go they generate must parse (genGo formats it).
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
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := openrpc.Parse(data)
		if err != nil {
			return
		}
		a, err := newAPI(d)
		if err != nil {
			return
		}
		_ = describeText(a)
		_ = genTS(a)
		if _, err := genGo(a, "p"); err != nil {
			t.Fatalf("gen go: %v", err)
		}
	})
}
