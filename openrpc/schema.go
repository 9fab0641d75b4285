package openrpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/wsrpc/wsrpc-go/internal/jsondepth"
)

// MaxDocumentDepth bounds how deeply arrays and objects nest in a document
// Parse reads: room for schemas nested MaxSchemaDepth deep (two levels
// each, as in "properties":{"name":{...}}) and the document around them.
const MaxDocumentDepth = 4*MaxSchemaDepth + 16

// MaxSchemaDepth bounds how deeply schemas nest in a document ParseSchema
// reads: a document comes from the network.
const MaxSchemaDepth = 64

// ErrSchema is wrapped by the errors of ParseSchema.
var ErrSchema = errors.New("openrpc: invalid schema")

// Schema is the subset of JSON Schema that wsrpc documents use, parsed for
// code generation. Properties keep their order in the document.
type Schema struct {
	// Bool is set for the schemas true (any value) and false (none).
	Bool *bool

	Ref         string // "#/components/schemas/Name"
	Type        []string
	Format      string
	Description string
	Enum        []json.RawMessage
	Const       json.RawMessage

	Properties []Property
	Required   []string
	// AdditionalProperties is nil when absent (any keys).
	AdditionalProperties *Schema

	Items      *Schema   // every element ("items" as one schema)
	TupleItems []*Schema // element i ("items" as an array, or "prefixItems")

	OneOf []*Schema
	AnyOf []*Schema
	AllOf []*Schema

	required map[string]bool // Required as a set, made by ParseSchema
}

// Property is one member of an object schema.
type Property struct {
	Name   string
	Schema *Schema
}

// IsRequired reports whether the object schema requires the property name.
func (s *Schema) IsRequired(name string) bool {
	if s.required != nil {
		return s.required[name]
	}
	for _, r := range s.Required {
		if r == name {
			return true
		}
	}
	return false
}

// HasType reports whether the schema's type list names t.
func (s *Schema) HasType(t string) bool {
	for _, x := range s.Type {
		if x == t {
			return true
		}
	}
	return false
}

// ParseSchema parses a JSON Schema; an absent schema (empty raw) is true.
// It reads raw once, front to back, so its time and memory are linear in
// len(raw) whatever the schema's shape; keywords it does not use are
// skipped. JSON null is the empty schema (any value).
func ParseSchema(raw json.RawMessage) (*Schema, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		t := true
		return &Schema{Bool: &t}, nil
	}
	p := &schemaParser{dec: json.NewDecoder(bytes.NewReader(raw))}
	p.dec.UseNumber()
	t, err := p.token()
	if err != nil {
		return nil, err
	}
	s, err := p.schema(t, 0)
	if err != nil {
		return nil, err
	}
	if _, err := p.dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the schema", ErrSchema)
	}
	return s, nil
}

// schemaParser reads one schema from a token stream.
type schemaParser struct{ dec *json.Decoder }

func (p *schemaParser) token() (json.Token, error) {
	t, err := p.dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSchema, err)
	}
	return t, nil
}

// schema reads the schema that begins with t, nested depth schemas deep.
func (p *schemaParser) schema(t json.Token, depth int) (*Schema, error) {
	if depth > MaxSchemaDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", ErrSchema, MaxSchemaDepth)
	}
	switch t := t.(type) {
	case bool:
		return &Schema{Bool: &t}, nil
	case nil:
		return &Schema{}, nil
	case json.Delim:
		if t == '{' {
			return p.object(depth)
		}
	}
	return nil, fmt.Errorf("%w: a schema is an object or a boolean, not %v", ErrSchema, t)
}

// object reads the members of a schema object, after its '{'.
func (p *schemaParser) object(depth int) (*Schema, error) {
	s := &Schema{}
	var items, prefixItems []*Schema
	for p.dec.More() {
		t, err := p.token()
		if err != nil {
			return nil, err
		}
		key, _ := t.(string)
		if err := p.member(s, key, depth, &items, &prefixItems); err != nil {
			return nil, err
		}
	}
	if _, err := p.token(); err != nil { // '}'
		return nil, err
	}
	if items != nil {
		s.TupleItems = items
	}
	if prefixItems != nil {
		s.TupleItems = prefixItems
	}
	if len(s.Required) > 0 {
		s.required = make(map[string]bool, len(s.Required))
		for _, r := range s.Required {
			s.required[r] = true
		}
	}
	return s, nil
}

// member reads the value of the keyword key into s.
func (p *schemaParser) member(s *Schema, key string, depth int, items, prefixItems *[]*Schema) error {
	var err error
	switch key {
	case "$ref":
		err = p.str(key, &s.Ref)
	case "format":
		err = p.str(key, &s.Format)
	case "description":
		err = p.str(key, &s.Description)
	case "type":
		s.Type, err = p.types()
	case "required":
		s.Required, err = p.strings(key)
	case "enum":
		s.Enum, err = p.values(key)
	case "const":
		err = p.dec.Decode(&s.Const)
	case "properties":
		s.Properties, err = p.properties(depth + 1)
	case "additionalProperties":
		s.AdditionalProperties, err = p.sub(depth + 1)
	case "items":
		var t json.Token
		if t, err = p.token(); err != nil {
			return err
		}
		if t == json.Delim('[') {
			*items, err = p.list(depth + 1)
			if err == nil && *items == nil {
				*items = []*Schema{}
			}
		} else {
			s.Items, err = p.schema(t, depth+1)
		}
	case "prefixItems":
		*prefixItems, err = p.schemas(key, depth+1)
	case "oneOf":
		s.OneOf, err = p.schemas(key, depth+1)
	case "anyOf":
		s.AnyOf, err = p.schemas(key, depth+1)
	case "allOf":
		s.AllOf, err = p.schemas(key, depth+1)
	default:
		err = p.skip()
	}
	if err != nil && !errors.Is(err, ErrSchema) {
		err = fmt.Errorf("%w: %s: %w", ErrSchema, key, err)
	}
	return err
}

// sub reads a nested schema.
func (p *schemaParser) sub(depth int) (*Schema, error) {
	t, err := p.token()
	if err != nil {
		return nil, err
	}
	return p.schema(t, depth)
}

// str reads a string or null.
func (p *schemaParser) str(key string, dst *string) error {
	t, err := p.token()
	if err != nil {
		return err
	}
	switch t := t.(type) {
	case string:
		*dst = t
	case nil:
	default:
		return fmt.Errorf("%w: %s is not a string", ErrSchema, key)
	}
	return nil
}

// open reads '[' (true) or null (false).
func (p *schemaParser) open(key string) (bool, error) {
	t, err := p.token()
	if err != nil {
		return false, err
	}
	switch t {
	case json.Delim('['):
		return true, nil
	case nil:
		return false, nil
	}
	return false, fmt.Errorf("%w: %s is not an array", ErrSchema, key)
}

// types reads "type": a name or a list of names.
func (p *schemaParser) types() ([]string, error) {
	t, err := p.token()
	if err != nil {
		return nil, err
	}
	switch t := t.(type) {
	case string:
		return []string{t}, nil
	case nil:
		return nil, nil
	case json.Delim:
		if t == '[' {
			return p.stringsAfterOpen("type")
		}
	}
	return nil, fmt.Errorf("%w: type is not a string or a list of strings", ErrSchema)
}

func (p *schemaParser) strings(key string) ([]string, error) {
	if ok, err := p.open(key); !ok {
		return nil, err
	}
	return p.stringsAfterOpen(key)
}

func (p *schemaParser) stringsAfterOpen(key string) ([]string, error) {
	out := []string{}
	for p.dec.More() {
		t, err := p.token()
		if err != nil {
			return nil, err
		}
		v, ok := t.(string)
		if !ok {
			return nil, fmt.Errorf("%w: %s: not a list of strings", ErrSchema, key)
		}
		out = append(out, v)
	}
	_, err := p.token() // ']'
	return out, err
}

// values reads a list of JSON values as they are written.
func (p *schemaParser) values(key string) ([]json.RawMessage, error) {
	if ok, err := p.open(key); !ok {
		return nil, err
	}
	var out []json.RawMessage
	for p.dec.More() {
		var v json.RawMessage
		if err := p.dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrSchema, key, err)
		}
		out = append(out, v)
	}
	_, err := p.token()
	return out, err
}

// schemas reads a list of schemas (null: none).
func (p *schemaParser) schemas(key string, depth int) ([]*Schema, error) {
	if ok, err := p.open(key); !ok {
		return nil, err
	}
	return p.list(depth)
}

// list reads schemas up to the ']' that ends the list.
func (p *schemaParser) list(depth int) ([]*Schema, error) {
	var out []*Schema
	for p.dec.More() {
		s, err := p.sub(depth)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	_, err := p.token()
	return out, err
}

// properties reads an object of schemas in document order; of a name
// written twice, the first counts.
func (p *schemaParser) properties(depth int) ([]Property, error) {
	t, err := p.token()
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, nil
	}
	if t != json.Delim('{') {
		return nil, fmt.Errorf("%w: properties is not an object", ErrSchema)
	}
	var out []Property
	seen := map[string]bool{}
	for p.dec.More() {
		t, err := p.token()
		if err != nil {
			return nil, err
		}
		name, _ := t.(string)
		s, err := p.sub(depth)
		if err != nil {
			return nil, fmt.Errorf("property %q: %w", name, err)
		}
		if !seen[name] {
			seen[name] = true
			out = append(out, Property{Name: name, Schema: s})
		}
	}
	_, err = p.token()
	return out, err
}

// skip reads past one value of any depth, without recursion.
func (p *schemaParser) skip() error {
	open := 0
	for {
		t, err := p.token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			open++
		case json.Delim('}'), json.Delim(']'):
			open--
		}
		if open == 0 {
			return nil
		}
	}
}

// Parse reads a document, checking what readers rely on: nesting within
// MaxDocumentDepth, the OpenRPC version's major 1, and methods with names.
func Parse(data []byte) (*Document, error) {
	if jsondepth.Exceeds(data, MaxDocumentDepth) {
		return nil, fmt.Errorf("openrpc: the document nests arrays and objects deeper than %d levels (MaxDocumentDepth)", MaxDocumentDepth)
	}
	var d Document
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("openrpc: the document is not valid JSON for OpenRPC: %w", err)
	}
	if len(d.OpenRPC) < 2 || d.OpenRPC[:2] != "1." {
		return nil, fmt.Errorf("openrpc: the document's openrpc version is %q; this reads 1.x", d.OpenRPC)
	}
	for i, m := range append(append([]Method(nil), d.Methods...), d.PeerMethods...) {
		if m.Name == "" {
			return nil, fmt.Errorf("openrpc: method %d has no name", i)
		}
	}
	return &d, nil
}
