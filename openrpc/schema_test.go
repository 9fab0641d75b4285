package openrpc_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wsrpc/wsrpc-go/openrpc"
)

func TestParseSchema(t *testing.T) {
	tests := []struct {
		name  string
		raw   string
		check func(t *testing.T, s *openrpc.Schema)
		err   string
	}{
		{"absent is true", ``, func(t *testing.T, s *openrpc.Schema) { require.True(t, *s.Bool) }, ""},
		{"false", `false`, func(t *testing.T, s *openrpc.Schema) { require.False(t, *s.Bool) }, ""},
		{"properties keep their order", `{"type":"object","properties":{"z":{"type":"string"},"a":true},"required":["z"]}`,
			func(t *testing.T, s *openrpc.Schema) {
				require.Equal(t, "z", s.Properties[0].Name)
				require.Equal(t, "a", s.Properties[1].Name)
				require.True(t, s.IsRequired("z"))
				require.False(t, s.IsRequired("a"))
				require.True(t, s.HasType("object"))
			}, ""},
		{"a type list", `{"type":["string","null"]}`, func(t *testing.T, s *openrpc.Schema) { require.Equal(t, []string{"string", "null"}, s.Type) }, ""},
		{"tuple items", `{"type":"array","items":[{"type":"integer"},true]}`, func(t *testing.T, s *openrpc.Schema) { require.Len(t, s.TupleItems, 2) }, ""},
		{"prefixItems", `{"prefixItems":[true]}`, func(t *testing.T, s *openrpc.Schema) { require.Len(t, s.TupleItems, 1) }, ""},
		{"too deep", strings.Repeat(`{"items":`, openrpc.MaxSchemaDepth+2) + "true" + strings.Repeat("}", openrpc.MaxSchemaDepth+2), nil, "nested deeper than 64"},
		{"not a schema", `[1]`, nil, "invalid schema"},
		{"a bad type", `{"type":1}`, nil, "invalid schema: type"},
		{"properties not an object", `{"properties":"x"}`, nil, "invalid schema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := openrpc.ParseSchema(json.RawMessage(tt.raw))
			if tt.err != "" {
				require.ErrorIs(t, err, openrpc.ErrSchema)
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			tt.check(t, s)
		})
	}
}

func TestParse(t *testing.T) {
	_, err := openrpc.Parse([]byte(`{"openrpc":"2.0","info":{"title":"t","version":"1"},"methods":[]}`))
	require.ErrorContains(t, err, `openrpc version is "2.0"`)
	_, err = openrpc.Parse([]byte(`{"openrpc":"1.3.2","info":{"title":"t","version":"1"},"methods":[{"params":[]}]}`))
	require.ErrorContains(t, err, "method 0 has no name")
	d, err := openrpc.Parse([]byte(`{"openrpc":"1.3.2","info":{"title":"t","version":"1"},"methods":[{"name":"m","params":[],"errors":[{"code":-32602,"message":"TypeError"}]}]}`))
	require.NoError(t, err)
	require.Equal(t, "TypeError", d.Methods[0].Errors[0].Type())
}

// FuzzParseSchema: a schema from the network never panics or nests past the
// bound.
func FuzzParseSchema(f *testing.F) {
	for _, s := range []string{`true`, `{"type":["object"],"properties":{"a":{"items":[{"$ref":"#/x"}]}},"additionalProperties":{"oneOf":[true,false]}}`, `{"prefixItems":[{"enum":[1,"a",null]}],"allOf":[{}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, _ = openrpc.ParseSchema(raw)
	})
}
