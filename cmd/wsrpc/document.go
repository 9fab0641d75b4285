package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
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
	used := map[string]bool{}
	for _, id := range reserved {
		used[id] = true
	}
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
			a.components[name] = &component{ident: unique(used, pascal(name)), schema: s}
		}
	}
	var err error
	if a.methods, err = a.readMethods(d.Methods, used); err != nil {
		return nil, err
	}
	if a.peer, err = a.readMethods(d.PeerMethods, used); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *api) readMethods(ms []openrpc.Method, used map[string]bool) ([]apiMethod, error) {
	var out []apiMethod
	for _, m := range ms {
		am := apiMethod{m: m, ident: uniqueMethod(used, pascal(m.Name))}
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

// reserved are the identifiers the generated code declares itself.
var reserved = []string{"API", "Caller", "Client", "Exposer", "New", "PeerRoutes", "Peer", "Any"}

// uniqueMethod returns the identifier of a method: free, and so are the
// names of its params and result types.
func uniqueMethod(used map[string]bool, id string) string {
	out := id
	for i := 2; used[out] || used[out+"Params"] || used[out+"Result"]; i++ {
		out = fmt.Sprintf("%s%d", id, i)
	}
	used[out], used[out+"Params"], used[out+"Result"] = true, true, true
	return out
}

// unique returns id, or id with a number appended, not yet in used.
func unique(used map[string]bool, id string) string {
	out := id
	for i := 2; used[out]; i++ {
		out = fmt.Sprintf("%s%d", id, i)
	}
	used[out] = true
	return out
}
