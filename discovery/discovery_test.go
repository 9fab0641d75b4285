package discovery_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	jsv "github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/discovery"
	"github.com/wsrpc/wsrpc-go/examples/introduction/intro"
	"github.com/wsrpc/wsrpc-go/internal/testserver"
	"github.com/wsrpc/wsrpc-go/openrpc"
)

// wait bounds every wait of these tests.
const wait = 10 * time.Second

// metaSchema compiles the OpenRPC meta-schema of testdata. Both files name
// https://meta.json-schema.tools/ as their $schema, a meta-schema the
// validator does not know; it is draft 7 with extensions, so they are read
// as draft 7.
func metaSchema(t *testing.T) *jsv.Schema {
	t.Helper()
	load := func(file string) any {
		f, err := os.Open("testdata/" + file)
		require.NoError(t, err)
		defer f.Close()
		doc, err := jsv.UnmarshalJSON(f)
		require.NoError(t, err)
		doc.(map[string]any)["$schema"] = "http://json-schema.org/draft-07/schema#"
		return doc
	}
	c := jsv.NewCompiler()
	// The OpenRPC meta-schema refers to it without the trailing slash of its $id.
	require.NoError(t, c.AddResource("https://meta.json-schema.tools/", load("json-schema-tools-meta-schema.json")))
	require.NoError(t, c.AddResource("https://meta.json-schema.tools", load("json-schema-tools-meta-schema.json")))
	require.NoError(t, c.AddResource("https://meta.open-rpc.org/", load("openrpc-meta-schema.json")))
	s, err := c.Compile("https://meta.open-rpc.org/")
	require.NoError(t, err)
	return s
}

func validate(t *testing.T, meta *jsv.Schema, doc []byte) {
	t.Helper()
	v, err := jsv.UnmarshalJSON(bytes.NewReader(doc))
	require.NoError(t, err)
	require.NoError(t, meta.Validate(v))
}

// Types of every shape a route may have, for the meta-schema test.
type (
	node struct {
		Name     string  `json:"name" jsonschema:"description=The node's name."`
		Children []*node `json:"children,omitempty"`
	}
	page struct {
		Items []node    `json:"items"`
		When  time.Time `json:"when"`
		Bytes []byte    `json:"bytes"`
		Next  *string   `json:"next"`
		Tags  map[string]int
		N     json.Number `json:"n"`
	}
	findParams struct {
		Query string `json:"query"`
		Limit int    `json:"limit,omitempty"`
		page         // promoted fields
	}
)

func shapes() *wsrpc.Registry {
	reg := intro.ServerRoutes()
	reg.MustAdd("find", wsrpc.Doc(func(ctx context.Context, p findParams) (*page, error) { return nil, nil }, "Finds pages.", "KeyError"))
	reg.MustAdd("minus", func(a, b int) int { return a - b })
	reg.MustAdd("tree", func(n node) node { return n })
	reg.MustAdd("counts", func(m map[string]float64) []int { return nil })
	reg.MustAdd("raw", func(json.RawMessage) {})
	reg.MustAdd("at", func(t time.Time) time.Time { return t })
	// Hostile names, for the generators.
	reg.MustAdd(`x"y`, &hostile{})
	reg.MustAdd("</script>", &listed{})
	reg.MustAdd(`a\b.__proto__`, func() {})
	reg.MustAdd("constructor", func(p struct {
		Proto string `json:"__proto__"`
		Quote string `json:"*/\"'"`
	}) {
	})
	return reg
}

func TestDocumentValidates(t *testing.T) {
	meta := metaSchema(t)
	tests := []struct {
		name string
		reg  *wsrpc.Registry
		opts *discovery.Options
	}{
		{"introduction", intro.ServerRoutes(), &discovery.Options{Title: "introduction", Peer: intro.ClientRoutes()}},
		{"every shape", shapes(), nil},
		{"empty", &wsrpc.Registry{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, discovery.Register(tt.reg, tt.opts))
			doc, err := discovery.Document(tt.reg, tt.opts)
			require.NoError(t, err)
			validate(t, meta, doc)
			_, err = openrpc.Parse(doc)
			require.NoError(t, err)
		})
	}
}

// The meta-schema test can fail: a document that breaks OpenRPC does.
func TestMetaSchemaRefuses(t *testing.T) {
	meta := metaSchema(t)
	doc, err := discovery.Document(intro.ServerRoutes(), nil)
	require.NoError(t, err)
	var d map[string]any
	require.NoError(t, json.Unmarshal(doc, &d))
	d["methods"].([]any)[0].(map[string]any)["errors"] = []any{map[string]any{"code": "TypeError", "message": "x"}}
	bad, err := json.Marshal(d)
	require.NoError(t, err)
	v, err := jsv.UnmarshalJSON(bytes.NewReader(bad))
	require.NoError(t, err)
	require.Error(t, meta.Validate(v))
}

func method(t *testing.T, d *openrpc.Document, name string) openrpc.Method {
	t.Helper()
	for _, m := range d.Methods {
		if m.Name == name {
			return m
		}
	}
	require.Failf(t, "no method", "%s is not in the document", name)
	return openrpc.Method{}
}

func names(ms []openrpc.Method) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

func TestDiscover(t *testing.T) { testserver.ForEachEngine(t, testDiscover) }

func testDiscover(t *testing.T) {
	reg := intro.ServerRoutes()
	discovery.MustRegister(reg, &discovery.Options{Title: "introduction", Peer: intro.ClientRoutes()})
	url := testserver.Listen(t, testserver.New(reg, nil))
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := client.Dial(ctx, url, nil, nil)
	require.NoError(t, err)
	defer c.Close()

	var raw json.RawMessage
	require.NoError(t, c.Call(ctx, openrpc.MethodName, nil, &raw))
	d, err := openrpc.Parse(raw)
	require.NoError(t, err)
	require.Equal(t, "introduction", d.Info.Title)
	require.Equal(t, []string{"kv", "kv.get", "kv.set", "multiply_loopback", "ping", "rpc.discover", "subtract"}, names(d.Methods))
	require.Equal(t, []string{"multiply"}, names(d.PeerMethods))

	tests := []struct {
		method   string
		params   []string
		required []bool
		result   string
	}{
		{"subtract", []string{"a", "b"}, []bool{true, true}, `{"type":"number"}`},
		{"kv.get", []string{"key", "default"}, []bool{true, false}, `true`},
		{"kv.set", []string{"key", "value"}, []bool{true, true}, `{"type":"boolean"}`},
		{"multiply_loopback", nil, nil, `true`},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			m := method(t, d, tt.method)
			var ps []string
			var req []bool
			for _, p := range m.Params {
				ps = append(ps, p.Name)
				req = append(req, p.Required)
			}
			require.Equal(t, tt.params, ps)
			require.Equal(t, tt.required, req)
			require.JSONEq(t, tt.result, string(m.Result.Schema))
			require.Contains(t, m.Errors, openrpc.Error{Code: openrpc.CodeInvalidParams, Message: "TypeError", Data: &openrpc.ErrorData{Type: "TypeError"}})
		})
	}

	// The document is made again only when the registry changes.
	var again json.RawMessage
	require.NoError(t, c.Call(ctx, openrpc.MethodName, nil, &again))
	require.Equal(t, string(raw), string(again))
	reg.MustAdd("late", wsrpc.Doc(func() {}, "Added later."))
	require.NoError(t, c.Call(ctx, openrpc.MethodName, nil, &again))
	d, err = openrpc.Parse(again)
	require.NoError(t, err)
	require.Equal(t, "Added later.", method(t, d, "late").Description)
}

// A server may discover its client: the client's registry serves
// rpc.discover too.
func TestDiscoverClient(t *testing.T) { testserver.ForEachEngine(t, testDiscoverClient) }

func testDiscoverClient(t *testing.T) {
	reg := wsrpc.NewRegistry()
	reg.MustAdd("discover_client", func(ctx context.Context) (json.RawMessage, error) {
		var doc json.RawMessage
		err := wsrpc.ConnFromContext(ctx).Call(ctx, openrpc.MethodName, nil, &doc)
		return doc, err
	})
	url := testserver.Listen(t, testserver.New(reg, nil))
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	creg := intro.ClientRoutes()
	discovery.MustRegister(creg, &discovery.Options{Title: "page"})
	c, err := client.Dial(ctx, url, creg, nil)
	require.NoError(t, err)
	defer c.Close()

	var raw json.RawMessage
	require.NoError(t, c.Call(ctx, "discover_client", nil, &raw))
	d, err := openrpc.Parse(raw)
	require.NoError(t, err)
	require.Equal(t, "page", d.Info.Title)
	require.Equal(t, []string{"multiply", "ping", "rpc.discover"}, names(d.Methods))
	validate(t, metaSchema(t), raw)
}

type hostile struct {
	wsrpc.Route `wsrpc:"allowed" noproxy:"Shutdown"`
	Embedded
}

// Embedded's methods are promoted into hostile, not its own.
type Embedded struct{}

func (Embedded) Promoted() string { return "" }

func (*hostile) Status() string               { return "" }
func (*hostile) Shutdown()                    {}
func (*hostile) Init()                        {}
func (*hostile) OnClose(ctx context.Context)  {}
func (*hostile) RouteDocs() map[string]string { return map[string]string{"Status": `"}]}</script>`} }
func (*hostile) unexported()                  {} //nolint:unused

type listed struct {
	wsrpc.Route `wsrpc:"proxy" methods:"Get"`
}

func (*listed) Get() string    { return "" }
func (*listed) Secret() string { return "" }

func TestUnexposedNeverAppear(t *testing.T) {
	reg := wsrpc.NewRegistry()
	reg.MustAdd(`x"y`, &hostile{})
	reg.MustAdd("</script>", &listed{})
	reg.MustAdd(`a\b.__proto__`, func() {})
	doc, err := discovery.Document(reg, nil)
	require.NoError(t, err)
	validate(t, metaSchema(t), doc)
	d, err := openrpc.Parse(doc)
	require.NoError(t, err)
	require.Equal(t, []string{"</script>.get", `a\b.__proto__`, "ping", `x"y`, `x"y.status`}, names(d.Methods))
	for _, hidden := range []string{"shutdown", "promoted", "secret", "on_close", "route_docs", "unexported"} {
		require.NotContains(t, strings.ToLower(string(doc)), `.`+hidden+`"`)
	}
	require.Equal(t, `"}]}</script>`, method(t, d, `x"y.status`).Description)
}
