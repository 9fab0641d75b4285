package openrpc_test

import (
	"encoding/json"
	"fmt"
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
		{"null is any value", `null`, func(t *testing.T, s *openrpc.Schema) { require.Equal(t, &openrpc.Schema{}, s) }, ""},
		{"a null keyword is absent", `{"type":null,"oneOf":null,"required":null,"description":null}`,
			func(t *testing.T, s *openrpc.Schema) { require.Equal(t, &openrpc.Schema{}, s) }, ""},
		{"unknown keywords of any depth are skipped", `{"x-deep":[[[[{"items":1}]]]],"examples":[{"a":[1]}],"type":"string"}`,
			func(t *testing.T, s *openrpc.Schema) { require.Equal(t, []string{"string"}, s.Type) }, ""},
		{"keywords are case-sensitive", `{"TYPE":"string"}`, func(t *testing.T, s *openrpc.Schema) { require.Nil(t, s.Type) }, ""},
		{"a property written twice: the first counts", `{"properties":{"a":{"type":"string"},"a":{"type":"integer"}}}`,
			func(t *testing.T, s *openrpc.Schema) {
				require.Len(t, s.Properties, 1)
				require.Equal(t, []string{"string"}, s.Properties[0].Schema.Type)
			}, ""},
		{"prefixItems wins over items as a list", `{"prefixItems":[true],"items":[false,false]}`,
			func(t *testing.T, s *openrpc.Schema) { require.Len(t, s.TupleItems, 1) }, ""},
		{"enum and const keep their text", `{"enum":[1.0, "a", {"b":[null]}],"const":1e400}`,
			func(t *testing.T, s *openrpc.Schema) {
				require.Equal(t, `{"b":[null]}`, string(s.Enum[2]))
				require.Equal(t, `1e400`, string(s.Const))
			}, ""},
		{"too deep through properties", strings.Repeat(`{"properties":{"a":`, openrpc.MaxSchemaDepth+1) + "true" + strings.Repeat("}}", openrpc.MaxSchemaDepth+1), nil, "nested deeper than 64"},
		{"a bad nested schema", `{"items":{"anyOf":[1]}}`, nil, "invalid schema"},
		{"a bad $ref", `{"$ref":1}`, nil, "$ref is not a string"},
		{"a bad required", `{"required":[1]}`, nil, "required: not a list of strings"},
		{"data after the schema", `{} {}`, nil, "data after the schema"},
		{"truncated", `{"items":{`, nil, "invalid schema"},
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

// TestParseSchemaLinear: a schema of many properties, each required, is
// read and asked about in time linear in its size (IsRequired looks names
// up in a set).
func TestParseSchemaLinear(t *testing.T) {
	const n = 50_000
	var props, req strings.Builder
	for i := range n {
		if i > 0 {
			props.WriteByte(',')
			req.WriteByte(',')
		}
		fmt.Fprintf(&props, `"p%d":true`, i)
		fmt.Fprintf(&req, `"p%d"`, i)
	}
	s, err := openrpc.ParseSchema(json.RawMessage(`{"properties":{` + props.String() + `},"required":[` + req.String() + `]}`))
	require.NoError(t, err)
	require.Len(t, s.Properties, n)
	for _, p := range s.Properties { // n² string compares (2.5e9) without the set
		require.True(t, s.IsRequired(p.Name))
	}
	require.False(t, s.IsRequired("none"))
}

func TestParse(t *testing.T) {
	deep := func(n int) []byte {
		return []byte(`{"openrpc":"1.3.2","info":{"title":"t","version":"1"},"methods":[],"x":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`)
	}
	_, err := openrpc.Parse(deep(openrpc.MaxDocumentDepth - 1))
	require.NoError(t, err)
	_, err = openrpc.Parse(deep(openrpc.MaxDocumentDepth))
	require.ErrorContains(t, err, "the document nests arrays and objects deeper than 272 levels")
	_, err = openrpc.Parse(deep(1 << 20))
	require.ErrorContains(t, err, "deeper than")

	_, err = openrpc.Parse([]byte(`{"openrpc":"2.0","info":{"title":"t","version":"1"},"methods":[]}`))
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
	f.Add([]byte(strings.Repeat(`{"type":["array","array"],"items":`, 40) + "true" + strings.Repeat("}", 40)))
	f.Add([]byte(`{"properties":{"a":{"$ref":"#/components/schemas/A"},"a":true},"required":["a","a"],"x":[[{}]]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := openrpc.ParseSchema(raw)
		if err != nil {
			return
		}
		// Linear: every schema takes at least two bytes ("{}", "true").
		nodes, depth := countSchemas(s, 0)
		if nodes > len(raw)/2+1 {
			t.Fatalf("%d schemas from %d bytes", nodes, len(raw))
		}
		if depth > openrpc.MaxSchemaDepth+1 {
			t.Fatalf("schemas nested %d deep", depth)
		}
	})
}

// countSchemas returns how many schemas s holds (itself included) and how
// deeply they nest.
func countSchemas(s *openrpc.Schema, depth int) (nodes, deepest int) {
	if s == nil {
		return 0, depth
	}
	nodes, deepest = 1, depth+1
	var subs []*openrpc.Schema
	for _, p := range s.Properties {
		subs = append(subs, p.Schema)
	}
	subs = append(subs, s.AdditionalProperties, s.Items)
	for _, list := range [][]*openrpc.Schema{s.TupleItems, s.OneOf, s.AnyOf, s.AllOf} {
		subs = append(subs, list...)
	}
	for _, x := range subs {
		n, d := countSchemas(x, depth+1)
		nodes, deepest = nodes+n, max(deepest, d)
	}
	return nodes, deepest
}
