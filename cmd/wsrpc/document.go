package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/openrpc"
)

// maxDocument bounds a document read from a file, as a message from a
// server is bounded by the client's message limit.
const maxDocument = maxLine

// isURL reports whether src names a server rather than a saved document.
func isURL(src string) bool {
	for _, p := range []string{"ws://", "wss://", "http://", "https://"} {
		if strings.HasPrefix(strings.ToLower(src), p) {
			return true
		}
	}
	return false
}

// document fetches the OpenRPC document of src: a server's rpc.discover
// when src is a URL, else the file src ("-": stdin). It returns the
// document as received and parsed.
func (s *session) document(ctx context.Context, src string, stdin io.Reader) (json.RawMessage, *openrpc.Document, error) {
	var raw json.RawMessage
	if isURL(src) {
		ctx, cancel := s.bounded(ctx)
		defer cancel()
		s.oneShot = true
		s.maxDepth = maxDocument // depth never exceeds length; Parse bounds it
		c, _, err := s.dial(ctx, src, nil, nil)
		if err != nil {
			return nil, nil, err
		}
		defer hangUp(c)
		if err := c.Call(ctx, openrpc.MethodName, nil, &raw); err != nil {
			var re *wsrpc.Error
			if errors.As(err, &re) && re.Type == wsrpc.TypeNotImplemented {
				return nil, nil, fmt.Errorf("%s does not serve %s: turn discovery on in the server (discovery.Register)", src, openrpc.MethodName)
			}
			return nil, nil, fmt.Errorf("%s: %w", openrpc.MethodName, err)
		}
	} else {
		var r io.Reader = stdin
		if src != "-" {
			f, err := os.Open(src)
			if err != nil {
				return nil, nil, err
			}
			defer f.Close()
			r = f
		}
		b, err := io.ReadAll(io.LimitReader(r, maxDocument+1))
		if err != nil {
			return nil, nil, err
		}
		if len(b) > maxDocument {
			return nil, nil, fmt.Errorf("%s: the document is larger than %d bytes", src, maxDocument)
		}
		raw = b
	}
	d, err := openrpc.Parse(raw)
	if err != nil {
		return nil, nil, err
	}
	return raw, d, nil
}

// api is a parsed document for the generators: its methods' schemas read,
// and identifiers chosen for every type.
type api struct {
	doc     *openrpc.Document
	methods []apiMethod
	peer    []apiMethod
	// components: name in the document → schema and identifier.
	components map[string]*component
	compNames  []string // sorted
}

type component struct {
	ident  string
	schema *openrpc.Schema
	// cycle numbers the cycle of references the component is in (0: none);
	// degenerate: a cycle of references through unions only (cycles.go).
	cycle      int
	degenerate bool
}

// apiMethod is one method, its params in one of three shapes.
type apiMethod struct {
	m     openrpc.Method
	ident string // PascalCase identifier: "KvGet"
	// Exactly one of: named params (fields), positional params (args),
	// whole (a params value of one schema, such as a map), or none.
	fields []apiParam
	args   []apiParam
	whole  *openrpc.Schema
	result *openrpc.Schema // nil: null
}

type apiParam struct {
	name     string
	required bool
	doc      string
	schema   *openrpc.Schema
}

// newAPI reads the schemas of d.
func newAPI(d *openrpc.Document) (*api, error) {
	a := &api{doc: d, components: map[string]*component{}}
	used := newNames(reserved)
	if d.Components != nil {
		for name := range d.Components.Schemas {
			a.compNames = append(a.compNames, name)
		}
		sort.Strings(a.compNames)
		for _, name := range a.compNames {
			s, err := openrpc.ParseSchema(d.Components.Schemas[name])
			if err != nil {
				return nil, fmt.Errorf("components.schemas %q: %w", name, err)
			}
			a.components[name] = &component{ident: used.take(pascal(name)), schema: s}
		}
	}
	var err error
	if a.methods, err = a.readMethods(d.Methods, used); err != nil {
		return nil, err
	}
	if a.peer, err = a.readMethods(d.PeerMethods, used); err != nil {
		return nil, err
	}
	a.findCycles()
	return a, nil
}

func (a *api) readMethods(ms []openrpc.Method, used *names) ([]apiMethod, error) {
	var out []apiMethod
	for _, m := range ms {
		am := apiMethod{m: m, ident: used.take(pascal(m.Name), "Params", "Result")}
		params := make([]apiParam, 0, len(m.Params))
		for _, p := range m.Params {
			s, err := openrpc.ParseSchema(p.Schema)
			if err != nil {
				return nil, fmt.Errorf("method %q param %q: %w", m.Name, p.Name, err)
			}
			params = append(params, apiParam{name: p.Name, required: p.Required, doc: p.Description, schema: s})
		}
		switch {
		case m.ParamStructure == openrpc.ByPosition:
			am.args = params
		case len(params) > 0:
			am.fields = params
		case len(m.ParamsSchema) > 0:
			s, err := openrpc.ParseSchema(m.ParamsSchema)
			if err != nil {
				return nil, fmt.Errorf("method %q params: %w", m.Name, err)
			}
			am.whole = s
		}
		if m.Result != nil {
			s, err := openrpc.ParseSchema(m.Result.Schema)
			if err != nil {
				return nil, fmt.Errorf("method %q result: %w", m.Name, err)
			}
			if !(len(s.Type) == 1 && s.Type[0] == "null") {
				am.result = s
			}
		}
		out = append(out, am)
	}
	return out, nil
}

// component returns the component a reference names, nil when none.
func (a *api) component(ref string) *component {
	name, ok := strings.CutPrefix(ref, openrpc.SchemaRefPrefix)
	if !ok {
		return nil
	}
	return a.components[name]
}

// pascal turns any name into an exported identifier: "kv.get" → "KvGet",
// "multiply_loopback" → "MultiplyLoopback"; letters and digits only.
func pascal(name string) string {
	var b strings.Builder
	up := true
	for _, r := range name {
		if !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r))) {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	s := b.String()
	if s == "" || unicode.IsDigit(rune(s[0])) {
		s = "M" + s
	}
	return s
}

// reserved are the identifiers the generated code declares itself, and
// the global names of TypeScript and JavaScript an exported identifier
// (always capitalized) could shadow. Go's keywords and predeclared
// identifiers begin in lower case, which pascal never makes.
var reserved = []string{
	"API", "Caller", "Client", "Exposer", "Expose", "New", "PeerRoutes", "Peer", "Any", "Bind",
	// TypeScript's and JavaScript's global types and values.
	"Array", "ArrayBuffer", "ArrayLike", "AsyncIterable", "AsyncIterator", "Awaited", "BigInt",
	"Boolean", "Capitalize", "ConstructorParameters", "DataView", "Date", "Error", "EvalError",
	"Exclude", "Extract", "Float32Array", "Float64Array", "Function", "Generator", "Infinity",
	"InstanceType", "Int16Array", "Int32Array", "Int8Array", "Intl", "Iterable", "IterableIterator",
	"Iterator", "JSON", "Lowercase", "Map", "Math", "NaN", "NoInfer", "NonNullable", "Number",
	"Object", "Omit", "OmitThisParameter", "Parameters", "Partial", "Pick", "Promise",
	"PromiseLike", "PropertyKey", "Proxy", "RangeError", "Readonly", "ReadonlyArray",
	"ReadonlyMap", "ReadonlySet", "Record", "ReferenceError", "Reflect", "RegExp", "Required",
	"ReturnType", "Set", "SharedArrayBuffer", "String", "Symbol", "SyntaxError", "TemplateStringsArray",
	"ThisParameterType", "ThisType", "TypeError", "URIError", "Uint16Array", "Uint32Array",
	"Uint8Array", "Uint8ClampedArray", "Uncapitalize", "Uppercase", "WeakMap", "WeakRef", "WeakSet",
}

// names hands out identifiers, each once.
type names struct {
	used map[string]bool
	next map[string]int // base → the number its next search starts at
	// probes counts the candidates tried (TestGenIdentifiersLinear).
	probes int
}

func newNames(taken []string) *names {
	n := &names{used: map[string]bool{}, next: map[string]int{}}
	for _, id := range taken {
		n.used[id] = true
	}
	return n
}

// take returns id, or id with a number appended, free together with id
// plus each suffix (a method's "Params" and "Result" types), and marks
// them used. The search for a base goes on where its last one ended, so n
// names of one base cost O(n), not O(n²).
func (n *names) take(id string, suffixes ...string) string {
	out := id
	for i := max(n.next[id], 2); n.taken(out, suffixes); i++ {
		out = id + strconv.Itoa(i)
		n.next[id] = i + 1
	}
	n.used[out] = true
	for _, s := range suffixes {
		n.used[out+s] = true
	}
	return out
}

func (n *names) taken(id string, suffixes []string) bool {
	n.probes++
	if n.used[id] {
		return true
	}
	for _, s := range suffixes {
		if n.used[id+s] {
			return true
		}
	}
	return false
}
