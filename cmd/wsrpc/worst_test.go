package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wsrpc/wsrpc-go/openrpc"
)

// Documents built to make generation explode: each shape that made
// describe, gen ts or gen go take time or memory out of proportion to the
// document. The tests below bound what each one costs, and the benchmarks
// (BenchmarkGenWorst) measure it.

// docJSON is a document with methods (raw JSON, comma-separated) and
// components (raw JSON members of components.schemas).
func docJSON(methods, components string) []byte {
	d := `{"openrpc":"1.3.2","info":{"title":"worst","version":"1"},"methods":[` + methods + `]`
	if components != "" {
		d += `,"components":{"schemas":{` + components + `}}`
	}
	return []byte(d + "}")
}

// nestedUnionDoc: a result of type ["array","array"] nested depth deep,
// whose rendering used to double per level.
func nestedUnionDoc(depth int) []byte {
	schema := strings.Repeat(`{"type":["array","array","array"],"items":`, depth) + `{"type":"string"}` + strings.Repeat("}", depth)
	return docJSON(`{"name":"m","params":[{"name":"p","schema":`+schema+`}],"result":{"name":"r","schema":`+schema+`}}`, "")
}

// sameNameDoc: n methods of one name, and n/10 peer methods of it with
// params and a result, whose identifiers used to be numbered in O(n²).
func sameNameDoc(n int) []byte {
	ms := strings.TrimSuffix(strings.Repeat(`{"name":"m","params":[]},`, n), ",")
	peer := `{"name":"m","params":[{"name":"a","required":true,"schema":{"type":"string"}}],"result":{"name":"r","schema":{"type":"integer"}}}`
	d := docJSON(ms, "")
	return append(d[:len(d)-1], []byte(`,"x-wsrpc-peer-methods":[`+strings.TrimSuffix(strings.Repeat(peer+",", max(n/10, 1)), ",")+`]}`)...)
}

// sameFieldDoc: n properties of one object whose names differ but make
// the same Go field name ("a", "a_", "a-", ..., "a_-", ...).
func sameFieldDoc(n int) []byte {
	const punct = "_-.!#$%&()*+/:;<=>?@[]^{|}~"
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"a`)
		for x := i; x > 0; x /= len(punct) {
			b.WriteByte(punct[x%len(punct)])
		}
		b.WriteString(`":{"type":"string"}`)
	}
	return docJSON(`{"name":"m","params":[{"name":"p","required":true,"schema":{"$ref":"#/components/schemas/Wide"}}]}`,
		`"Wide":{"type":"object","properties":{`+b.String()+`}}`)
}

// deepNameDoc: one method whose name has n dots, which made the TS API
// nest n levels, each indented further than the last.
func deepNameDoc(n int) []byte {
	return docJSON(`{"name":"`+strings.Repeat("a.", n)+`b","params":[]}`, "")
}

// recursiveComponents are components that refer to themselves: directly,
// through each other, through references and unions only, through maps,
// arrays and structs held by value.
const recursiveComponents = `
	"Self":{"$ref":"#/components/schemas/Self"},
	"A":{"$ref":"#/components/schemas/B"},
	"B":{"oneOf":[{"$ref":"#/components/schemas/A"},{"type":"null"}]},
	"Node":{"type":"object","properties":{"name":{"type":"string"},"parent":{"$ref":"#/components/schemas/Node"},"kids":{"type":"array","items":{"$ref":"#/components/schemas/Node"}},"byName":{"type":"object","additionalProperties":{"$ref":"#/components/schemas/Node"}}},"required":["name","parent"]},
	"Map":{"type":"object","additionalProperties":{"$ref":"#/components/schemas/Map"}},
	"List":{"type":"array","items":{"$ref":"#/components/schemas/List"}},
	"Json":{"anyOf":[{"type":"null"},{"type":"string"},{"type":"array","items":{"$ref":"#/components/schemas/Json"}},{"type":"object","additionalProperties":{"$ref":"#/components/schemas/Json"}}]},
	"Ping":{"type":"object","properties":{"pong":{"$ref":"#/components/schemas/Pong"}},"required":["pong"]},
	"Pong":{"type":"object","properties":{"ping":{"$ref":"#/components/schemas/Ping"}},"required":["ping"]},
	"Alias":{"$ref":"#/components/schemas/Holder"},
	"Holder":{"type":"object","properties":{"alias":{"$ref":"#/components/schemas/Alias"},"list":{"$ref":"#/components/schemas/List"}},"required":["alias"]},
	"Promise":{"type":"object","properties":{"then":{"$ref":"#/components/schemas/Promise"}}},
	"Array":{"type":"array","items":{"$ref":"#/components/schemas/Array"}},
	"Record":{"type":"object","additionalProperties":{"$ref":"#/components/schemas/Record"}},
	"RefAndProps":{"$ref":"#/components/schemas/List","properties":{"me":{"$ref":"#/components/schemas/RefAndProps"}},"required":["me"]}`

// recursiveDoc refers to every recursive component from a method and a
// peer method.
func recursiveDoc() []byte {
	var refs []string
	for _, name := range []string{"Self", "A", "B", "Node", "Map", "List", "Json", "Ping", "Pong", "Alias", "Holder", "Promise", "Array", "Record", "RefAndProps"} {
		refs = append(refs, fmt.Sprintf(`{"name":"%s","required":true,"schema":{"$ref":"#/components/schemas/%s"}}`, strings.ToLower(name), name))
	}
	m := `{"name":"walk","params":[` + strings.Join(refs, ",") + `],"result":{"name":"r","schema":{"$ref":"#/components/schemas/Node"}}}`
	pos := `{"name":"walk.pos","paramStructure":"by-position","params":[` + strings.Join(refs, ",") + `],"result":{"name":"r","schema":{"$ref":"#/components/schemas/Json"}}}`
	d := docJSON(m+","+pos, recursiveComponents)
	return append(d[:len(d)-1], []byte(`,"x-wsrpc-peer-methods":[`+m+`,`+pos+`]}`)...)
}

// worstShape is one document of the bound tests and benchmarks.
type worstShape struct {
	name string
	doc  func() []byte
	// benchOnly: too big for a test under -race; the benchmarks take the
	// shapes near the size the CLI accepts (4 MiB).
	benchOnly bool
}

// worstShapes are the documents of the bound tests and benchmarks; the
// first of each kind is small enough that a blow-up fails it cleanly, and
// the test stops there rather than run the bigger ones out of memory.
func worstShapes() []worstShape {
	return []worstShape{
		// The baseline: an ordinary document; its MB/s against each shape's
		// tells a blow-up from a big document.
		{"baseline-introduction", func() []byte {
			b, err := os.ReadFile(introDoc)
			if err != nil {
				panic(err)
			}
			return b
		}, false},
		{"nested-union-12", func() []byte { return nestedUnionDoc(12) }, false},
		{"deep-name-2k", func() []byte { return deepNameDoc(2000) }, false},
		{"nested-union-40", func() []byte { return nestedUnionDoc(40) }, false},
		{"nested-union-63", func() []byte { return nestedUnionDoc(openrpc.MaxSchemaDepth - 1) }, false},
		{"same-name-10k", func() []byte { return sameNameDoc(10_000) }, false},
		{"same-name-100k", func() []byte { return sameNameDoc(100_000) }, true},
		{"same-field-10k", func() []byte { return sameFieldDoc(10_000) }, false},
		{"same-field-100k", func() []byte { return sameFieldDoc(100_000) }, true},
		{"deep-name-64k", func() []byte { return deepNameDoc(1 << 16) }, false},
		{"deep-name-1M", func() []byte { return deepNameDoc(1 << 20) }, true},
		{"recursive", recursiveDoc, false},
	}
}

// generateAll runs what describe, gen ts and gen go do with doc and
// returns the three outputs.
func generateAll(doc []byte) (describe, ts string, goSrc []byte, err error) {
	d, err := openrpc.Parse(doc)
	if err != nil {
		return "", "", nil, err
	}
	a, err := newAPI(d)
	if err != nil {
		return "", "", nil, err
	}
	goSrc, err = genGo(a, "p")
	return describeText(a), genTS(a), goSrc, err
}

// maxGrowth bounds the output of each generator: a constant times the
// document, whatever its shape (outputs that doubled per level of nesting
// were gigabytes).
const maxGrowth = 64

// TestGenBoundedByDocument generates every worst shape under a generous
// deadline (it catches a blow-up, not a slow machine) and bounds each
// output by a constant times the document.
func TestGenBoundedByDocument(t *testing.T) {
	for _, tt := range worstShapes() {
		if tt.benchOnly {
			continue
		}
		ok := t.Run(tt.name, func(t *testing.T) {
			doc := tt.doc()
			require.LessOrEqual(t, len(doc), maxDocument, "the shape must fit the CLI's limit")
			type out struct {
				describe, ts string
				goSrc        []byte
				err          error
			}
			done := make(chan out, 1)
			go func() {
				var o out
				o.describe, o.ts, o.goSrc, o.err = generateAll(doc)
				done <- o
			}()
			select {
			case o := <-done:
				require.NoError(t, o.err)
				for name, n := range map[string]int{"describe": len(o.describe), "gen ts": len(o.ts), "gen go": len(o.goSrc)} {
					require.LessOrEqual(t, n, maxGrowth*len(doc)+64<<10, "%s wrote %d bytes for a document of %d", name, n, len(doc))
				}
			case <-time.After(6 * wait):
				t.Fatalf("generation did not finish within %v", 6*wait)
			}
		})
		if !ok {
			return // a blow-up: the bigger shapes would run out of memory
		}
	}
}

// TestGenIdentifiersLinear: many names that make one identifier are
// numbered in turn, each once.
func TestGenIdentifiersLinear(t *testing.T) {
	n := newNames([]string{"M2"})
	require.Equal(t, "M", n.take("M", "Params", "Result"))
	require.Equal(t, "M3", n.take("M", "Params", "Result"), "M2 is taken")
	n.used["M4Params"] = true
	require.Equal(t, "M5", n.take("M", "Params", "Result"), "M4's params type is taken")
	require.Equal(t, "M6", n.take("M"))
	require.Equal(t, "MParams2", n.take("MParams"))

	d, err := openrpc.Parse(sameNameDoc(20))
	require.NoError(t, err)
	a, err := newAPI(d)
	require.NoError(t, err)
	var ids []string
	for _, m := range append(a.methods, a.peer...) {
		ids = append(ids, m.ident)
	}
	require.Equal(t, "M", ids[0])
	require.Equal(t, "M22", ids[len(ids)-1])

	// Numbering many names of one base probes each candidate about once:
	// linear, where searching from 2 each time was quadratic.
	const many = 10_000
	n = newNames(reserved)
	for range many {
		n.take("M", "Params", "Result")
	}
	require.LessOrEqual(t, n.probes, 2*many, "names probed per name taken")
}

// BenchmarkGenWorst measures describe, gen ts and gen go together on each
// worst shape, beside an ordinary document (baseline-introduction): MB/s
// is document bytes read per second, out-bytes what the three wrote.
//
//	go test -run '^$' -bench BenchmarkGenWorst -benchmem ./cmd/wsrpc
func BenchmarkGenWorst(b *testing.B) {
	for _, tt := range worstShapes() {
		doc := tt.doc()
		b.Run(tt.name, func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			var n int
			for b.Loop() {
				describe, ts, goSrc, err := generateAll(doc)
				if err != nil {
					b.Fatal(err)
				}
				n = len(describe) + len(ts) + len(goSrc)
			}
			b.ReportMetric(float64(n), "out-bytes")
			b.ReportMetric(float64(len(doc)), "doc-bytes")
		})
	}
}

// Keep the JSON of the builders valid (a typo would test nothing).
func TestWorstShapesAreDocuments(t *testing.T) {
	for _, tt := range worstShapes() {
		require.True(t, json.Valid(tt.doc()), tt.name)
	}
}

// TestGenGoChunks: formatting a few declarations at a time writes what
// formatting the whole file at once does.
func TestGenGoChunks(t *testing.T) {
	for name, doc := range map[string][]byte{"hostile": hostileDoc(t, hostilePayloads), "recursive": recursiveDoc(), "same-name": sameNameDoc(50)} {
		a := mustAPI(t, doc)
		whole, err := genGoChunked(a, "p", 1<<62)
		require.NoError(t, err)
		chunked, err := genGoChunked(a, "p", 1)
		require.NoError(t, err, name)
		require.Equal(t, string(whole), string(chunked), name)
	}
}
