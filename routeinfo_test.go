package wsrpc_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

type infoGetParams struct {
	Key     string          `json:"key"`
	Default json.RawMessage `json:"default,omitempty"`
	Limit   *int            `json:"limit"`
	Tag     string          `json:"tag" wsrpc:"optional"`
	Skip    string          `json:"-"`
}

type infoStore struct {
	wsrpc.Route `wsrpc:"proxy" methods:"Get,Put=set" noproxy:"Drop"`
}

func (*infoStore) Init(ctx context.Context)                               {}
func (*infoStore) Get(ctx context.Context, p *infoGetParams) (any, error) { return nil, nil }
func (*infoStore) Put(p infoGetParams) error                              { return nil }
func (*infoStore) Drop()                                                  {}
func (*infoStore) Secret() string                                         { return "" }
func (*infoStore) RouteDocs() map[string]string {
	return map[string]string{"Init": "Opens the store.", "Get": "Reads a key.", "Secret": "never shown"}
}

type infoAdmin struct {
	wsrpc.Route `wsrpc:"allowed" noproxy:"Shutdown"`
}

func (*infoAdmin) Status() string { return "" }
func (*infoAdmin) Shutdown()      {}
func (*infoAdmin) RouteDocs() map[string]string {
	return map[string]string{"Status": "Says how it is."}
}

func TestRoutes(t *testing.T) {
	reg := wsrpc.NewRegistry()
	reg.MustAdd("minus", wsrpc.Doc(wsrpc.Inline(func(a, b int) int { return a - b }), "Returns a − b.", "KeyError"))
	reg.MustAdd("kv", &infoStore{})
	reg.MustAdd("admin", &infoAdmin{})
	reg.MustAdd("raw", func(json.RawMessage) {})

	byName := map[string]wsrpc.RouteInfo{}
	var names []string
	for _, ri := range reg.Routes() {
		byName[ri.Name] = ri
		names = append(names, ri.Name)
	}
	// Masked (Drop, Shutdown), unselected (Secret), RouteDocs never appear.
	require.Equal(t, []string{"admin.status", "kv", "kv.get", "kv.set", "minus", "ping", "raw"}, names)

	tests := []struct {
		name   string
		doc    string
		kind   wsrpc.ParamsKind
		result reflect.Type
		errors []string
	}{
		{"minus", "Returns a − b.", wsrpc.ParamsPositional, reflect.TypeFor[int](), []string{"TypeError", "RuntimeError", "ValueError", "KeyError"}},
		{"kv", "Opens the store.", wsrpc.ParamsNone, nil, []string{"TypeError", "RuntimeError"}},
		{"kv.get", "Reads a key.", wsrpc.ParamsNamed, reflect.TypeFor[any](), []string{"TypeError", "RuntimeError", "ValueError", "Exception", "TimeoutError"}},
		{"kv.set", "", wsrpc.ParamsNamed, nil, []string{"TypeError", "RuntimeError", "Exception", "TimeoutError"}},
		{"admin.status", "Says how it is.", wsrpc.ParamsNone, reflect.TypeFor[string](), []string{"TypeError", "RuntimeError", "ValueError"}},
		{"raw", "", wsrpc.ParamsRaw, nil, []string{"TypeError", "RuntimeError"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ri := byName[tt.name]
			require.Equal(t, tt.doc, ri.Doc)
			require.Equal(t, tt.kind, ri.Params.Kind)
			require.Equal(t, tt.result, ri.Result)
			require.Equal(t, tt.errors, ri.Errors)
		})
	}

	require.Equal(t, []reflect.Type{reflect.TypeFor[int](), reflect.TypeFor[int]()}, byName["minus"].Params.Types)
	get := byName["kv.get"].Params
	require.Equal(t, reflect.TypeFor[infoGetParams](), get.Struct)
	var fields []string
	var required []bool
	for _, f := range get.Fields {
		fields = append(fields, f.Name)
		required = append(required, f.Required)
	}
	require.Equal(t, []string{"key", "default", "limit", "tag"}, fields)
	require.Equal(t, []bool{true, false, false, false}, required)
}

func TestRoutesVersion(t *testing.T) {
	reg := wsrpc.NewRegistry()
	v := reg.Version()
	reg.MustAdd("a", func() {})
	require.NotEqual(t, v, reg.Version())
	v = reg.Version()
	require.NoError(t, reg.Remove("a"))
	require.NotEqual(t, v, reg.Version())
}

type infoBadDocs struct {
	wsrpc.Route `wsrpc:"allowed"`
}

func (*infoBadDocs) Get() {}
func (*infoBadDocs) RouteDocs() map[string]string {
	return map[string]string{"Gett": "a typo"}
}

func TestRoutesBadDocs(t *testing.T) {
	err := wsrpc.NewRegistry().Add("bad", &infoBadDocs{})
	require.ErrorIs(t, err, wsrpc.ErrInvalidRoute)
	require.ErrorContains(t, err, "RouteDocs documents Gett")
}
