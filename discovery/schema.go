package discovery

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"

	"github.com/invopop/jsonschema"
	"github.com/mailru/easyjson"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/openrpc"
)

// schemas reflects Go types into JSON Schemas with one reflector, and
// gathers the named types' definitions as the document's component
// schemas.
type schemas struct {
	r    *jsonschema.Reflector
	defs map[string]json.RawMessage
}

var (
	typeNumber   = reflect.TypeFor[json.Number]()
	typeRaw      = reflect.TypeFor[json.RawMessage]()
	typeEasyRaw  = reflect.TypeFor[easyjson.RawMessage]()
	typeAnyValue = reflect.TypeFor[any]()
)

func newSchemas() *schemas {
	return &schemas{
		r: &jsonschema.Reflector{
			Anonymous: true, // no $id per type
			Mapper:    mapType,
		},
		defs: map[string]json.RawMessage{},
	}
}

// mapType gives the schemas of the types the reflector would describe
// wrongly for the wire: a json.Number is a number (not a string), raw
// messages are any value.
func mapType(t reflect.Type) *jsonschema.Schema {
	switch t {
	case typeNumber:
		return &jsonschema.Schema{Type: "number"}
	case typeRaw, typeEasyRaw:
		return &jsonschema.Schema{}
	}
	return nil
}

// reflect returns the schema of t, its definitions moved to s.defs. With
// expand, a struct's own schema is returned rather than a reference to it.
func (s *schemas) reflect(t reflect.Type, expand bool) (sch *jsonschema.Schema, err error) {
	if t == nil || t == typeAnyValue {
		return &jsonschema.Schema{}, nil
	}
	defer func() {
		if p := recover(); p != nil { // a type the reflector does not know (a chan in a result struct)
			err = fmt.Errorf("%w: type %s: %v", ErrDocument, t, p)
		}
	}()
	s.r.ExpandedStruct = expand
	sch = s.r.ReflectFromType(t)
	for name, def := range sch.Definitions {
		b, err := s.marshal(def)
		if err != nil {
			return nil, err
		}
		s.defs[name] = b
	}
	sch.Definitions = nil
	sch.Version = ""
	sch.ID = ""
	return sch, nil
}

// refPrefix is how the reflector refers to its definitions.
var refPrefix = []byte(`"$ref":"#/$defs/`)

// marshal encodes a schema, its references pointing into components.schemas.
func (s *schemas) marshal(sch *jsonschema.Schema) (json.RawMessage, error) {
	b, err := json.Marshal(sch)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDocument, err)
	}
	return bytes.ReplaceAll(b, refPrefix, []byte(`"$ref":"`+openrpc.SchemaRefPrefix)), nil
}

func (s *schemas) schemaOf(t reflect.Type) (json.RawMessage, error) {
	sch, err := s.reflect(t, false)
	if err != nil {
		return nil, err
	}
	return s.marshal(sch)
}

// method describes one route.
func (s *schemas) method(ri wsrpc.RouteInfo) (openrpc.Method, error) {
	m := openrpc.Method{Name: ri.Name, Description: ri.Doc, Params: []openrpc.ContentDescriptor{}}
	var whole any // the x-wsrpc-params schema; none without params
	switch ri.Params.Kind {
	case wsrpc.ParamsNone:
		m.ParamStructure = openrpc.Either
	case wsrpc.ParamsNamed:
		m.ParamStructure = openrpc.ByName
		st, err := s.reflect(ri.Params.Struct, true)
		if err != nil {
			return m, err
		}
		props := map[string]json.RawMessage{}
		var required []string
		for _, f := range ri.Params.Fields {
			var fs json.RawMessage
			if p, ok := st.Properties.Get(f.Name); ok && p != nil {
				fs, err = s.marshal(p)
			} else {
				fs, err = s.schemaOf(f.Type)
			}
			if err != nil {
				return m, err
			}
			props[f.Name] = fs
			if f.Required {
				required = append(required, f.Name)
			}
			m.Params = append(m.Params, openrpc.ContentDescriptor{Name: f.Name, Required: f.Required, Schema: fs})
		}
		w := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			w["required"] = required
		}
		whole = w
	case wsrpc.ParamsPositional:
		m.ParamStructure = openrpc.ByPosition
		var items []json.RawMessage
		for i, t := range ri.Params.Types {
			ps, err := s.schemaOf(t)
			if err != nil {
				return m, err
			}
			items = append(items, ps)
			m.Params = append(m.Params, openrpc.ContentDescriptor{Name: "arg" + strconv.Itoa(i+1), Required: true, Schema: ps})
		}
		whole = map[string]any{"type": "array", "items": items, "minItems": len(items), "maxItems": len(items)}
	case wsrpc.ParamsMap:
		m.ParamStructure = openrpc.ByName
		ps, err := s.schemaOf(ri.Params.Types[0])
		if err != nil {
			return m, err
		}
		whole = ps
	case wsrpc.ParamsRaw:
		m.ParamStructure = openrpc.Either
		whole = map[string]any{}
	}
	if whole != nil {
		b, err := json.Marshal(whole)
		if err != nil {
			return m, fmt.Errorf("%w: %w", ErrDocument, err)
		}
		m.ParamsSchema = b
	}

	result := json.RawMessage(`{"type":"null"}`)
	switch {
	case ri.Name == openrpc.MethodName:
		result = json.RawMessage(`{"$ref":"https://meta.open-rpc.org/"}`)
	case ri.Result != nil:
		var err error
		if result, err = s.schemaOf(ri.Result); err != nil {
			return m, err
		}
	}
	m.Result = &openrpc.ContentDescriptor{Name: "result", Schema: result}
	for _, typ := range ri.Errors {
		m.Errors = append(m.Errors, openrpc.Error{Code: openrpc.ErrorCode(typ), Message: typ, Data: &openrpc.ErrorData{Type: typ}})
	}
	return m, nil
}
