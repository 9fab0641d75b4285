package openrpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

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
}

// Property is one member of an object schema.
type Property struct {
	Name   string
	Schema *Schema
}

// IsRequired reports whether the object schema requires the property name.
func (s *Schema) IsRequired(name string) bool {
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
func ParseSchema(raw json.RawMessage) (*Schema, error) {
	return parseSchema(raw, 0)
}

func parseSchema(raw json.RawMessage, depth int) (*Schema, error) {
	if depth > MaxSchemaDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", ErrSchema, MaxSchemaDepth)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		t := true
		return &Schema{Bool: &t}, nil
	}
	if raw[0] == 't' || raw[0] == 'f' {
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSchema, err)
		}
		return &Schema{Bool: &b}, nil
	}
	var m struct {
		Ref                  string            `json:"$ref"`
		Type                 json.RawMessage   `json:"type"`
		Format               string            `json:"format"`
		Description          string            `json:"description"`
		Enum                 []json.RawMessage `json:"enum"`
		Const                json.RawMessage   `json:"const"`
		Properties           json.RawMessage   `json:"properties"`
		Required             []string          `json:"required"`
		AdditionalProperties json.RawMessage   `json:"additionalProperties"`
		Items                json.RawMessage   `json:"items"`
		PrefixItems          []json.RawMessage `json:"prefixItems"`
		OneOf                []json.RawMessage `json:"oneOf"`
		AnyOf                []json.RawMessage `json:"anyOf"`
		AllOf                []json.RawMessage `json:"allOf"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSchema, err)
	}
	s := &Schema{Ref: m.Ref, Format: m.Format, Description: m.Description, Enum: m.Enum, Const: m.Const, Required: m.Required}
	if len(m.Type) > 0 {
		var one string
		if err := json.Unmarshal(m.Type, &one); err == nil {
			s.Type = []string{one}
		} else if err := json.Unmarshal(m.Type, &s.Type); err != nil {
			return nil, fmt.Errorf("%w: type: %w", ErrSchema, err)
		}
	}
	var err error
	if len(m.Properties) > 0 {
		if s.Properties, err = parseProperties(m.Properties, depth+1); err != nil {
			return nil, err
		}
	}
	if len(m.AdditionalProperties) > 0 {
		if s.AdditionalProperties, err = parseSchema(m.AdditionalProperties, depth+1); err != nil {
			return nil, err
		}
	}
	if items := bytes.TrimSpace(m.Items); len(items) > 0 {
		if items[0] == '[' {
			var list []json.RawMessage
			if err := json.Unmarshal(items, &list); err != nil {
				return nil, fmt.Errorf("%w: items: %w", ErrSchema, err)
			}
			if s.TupleItems, err = parseList(list, depth+1); err != nil {
				return nil, err
			}
		} else if s.Items, err = parseSchema(items, depth+1); err != nil {
			return nil, err
		}
	}
	if len(m.PrefixItems) > 0 {
		if s.TupleItems, err = parseList(m.PrefixItems, depth+1); err != nil {
			return nil, err
		}
	}
	if s.OneOf, err = parseList(m.OneOf, depth+1); err != nil {
		return nil, err
	}
	if s.AnyOf, err = parseList(m.AnyOf, depth+1); err != nil {
		return nil, err
	}
	if s.AllOf, err = parseList(m.AllOf, depth+1); err != nil {
		return nil, err
	}
	return s, nil
}

func parseList(list []json.RawMessage, depth int) ([]*Schema, error) {
	var out []*Schema
	for _, r := range list {
		s, err := parseSchema(r, depth)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// parseProperties reads an object of schemas in document order.
func parseProperties(raw json.RawMessage, depth int) ([]Property, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("%w: properties is not an object", ErrSchema)
	}
	var out []Property
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: properties: %w", ErrSchema, err)
		}
		name, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%w: property %q: %w", ErrSchema, name, err)
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		s, err := parseSchema(v, depth)
		if err != nil {
			return nil, err
		}
		out = append(out, Property{Name: name, Schema: s})
	}
	return out, nil
}

// Parse reads a document, checking what readers rely on: the OpenRPC
// version's major 1, and methods with names.
func Parse(data []byte) (*Document, error) {
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
