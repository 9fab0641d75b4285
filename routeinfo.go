// This file owns what a registry tells about its routes (Registry.Routes),
// for discovery documents and generated clients, and the documentation a
// route carries (Doc, Documented).

package wsrpc

import (
	"reflect"
	"sort"
)

// RouteInfo describes one method a registry answers: a function route, a
// struct route's exposed member, or its Init (called by the bare route
// name). It is what the discovery module turns into an OpenRPC document.
type RouteInfo struct {
	// Name is the method name on the wire: "subtract", "kv.get", "kv".
	Name string
	// Doc is the route's documentation, from Doc or Documented; "" when none.
	Doc string
	// Params says how the method takes its params.
	Params ParamsInfo
	// Result is the type of the result; nil when the method answers null.
	Result reflect.Type
	// Errors are the error types (Error.Type) the method may answer: the
	// library's own, in the order TypeError, RuntimeError, ValueError (when
	// it has a result), Exception and TimeoutError (when it returns an
	// error), then those declared with Doc.
	Errors []string
}

// ParamsKind is how a method takes its params (see Registry.Add).
type ParamsKind uint8

// The shapes of params.
const (
	ParamsNone       ParamsKind = iota // no params: absent, null, {} or []
	ParamsNamed                        // a JSON object whose keys are the fields of a struct
	ParamsMap                          // a JSON object of any keys (a map[string]T)
	ParamsRaw                          // any JSON value, taken verbatim
	ParamsPositional                   // a JSON array, one element per parameter
)

// String returns "none", "named", "map", "raw" or "positional".
func (k ParamsKind) String() string {
	switch k {
	case ParamsNone:
		return "none"
	case ParamsNamed:
		return "named"
	case ParamsMap:
		return "map"
	case ParamsRaw:
		return "raw"
	case ParamsPositional:
		return "positional"
	}
	return "unknown"
}

// ParamsInfo describes a method's params.
type ParamsInfo struct {
	Kind ParamsKind
	// Struct is the params struct (not a pointer to it), for ParamsNamed.
	Struct reflect.Type
	// Fields are the keys of ParamsNamed in declaration order, with the
	// required ones as the route enforces them: a field is optional when it
	// is a pointer, has omitempty or omitzero, or the tag wsrpc:"optional".
	Fields []ParamField
	// Types are the parameter types of ParamsPositional in order; for
	// ParamsMap and ParamsRaw the one parameter's type.
	Types []reflect.Type
}

// ParamField is one key of named params.
type ParamField struct {
	Name     string       // the JSON key
	GoName   string       // the struct field's name
	Type     reflect.Type // the field's type
	Required bool         // a call without the key is a TypeError
}

// routeDoc is what Doc attaches to a handler.
type routeDoc struct {
	text       string
	errorTypes []string
}

// docHandler is a handler wrapped by Doc.
type docHandler struct {
	handler any
	routeDoc
}

// Doc attaches documentation to a handler for discovery (Registry.Routes,
// and the OpenRPC document the discovery module serves): doc describes the
// route, errorTypes name the error types (Error.Type) the handler answers
// besides the library's own. Doc wraps what Add takes, a function (also
// one wrapped by Inline) or a struct route, whose doc then describes its
// bare name (Init) unless its RouteDocs does:
//
//	reg.MustAdd("subtract", wsrpc.Doc(wsrpc.Inline(subtract), "Returns a − b."))
//	reg.MustAdd("kv.get", wsrpc.Doc(get, "Returns the value stored under key.", "KeyError"))
//
// The doc is read once, at Add; it changes nothing in how calls are served.
func Doc(handler any, doc string, errorTypes ...string) any {
	return docHandler{handler: handler, routeDoc: routeDoc{text: doc, errorTypes: errorTypes}}
}

// Documented is implemented by a struct route that documents its methods
// for discovery. RouteDocs maps a Go method name to its doc ("Init"
// documents the bare route name); Add calls it once, on the registered
// value, and refuses a name that is not a method of the struct. RouteDocs
// is never callable from the wire.
//
//	func (*Storage) RouteDocs() map[string]string {
//		return map[string]string{"Get": "Returns the value stored under key.", "Set": "Stores value under key."}
//	}
type Documented interface {
	RouteDocs() map[string]string
}

func (ref *routeRef) setDoc(text string, errorTypes []string) {
	d := routeDoc{text: text, errorTypes: errorTypes}
	if ref.fr != nil {
		ref.fr.doc = d
	} else {
		ref.sr.doc = d
	}
}

// Version returns a number that changes whenever a route is added or
// removed, so a description made from Routes can be cached until then.
func (r *Registry) Version() uint64 { return r.version.Load() }

// Routes describes every method the registry answers, sorted by name: each
// function route, and for each struct route its Init (under the bare name,
// when it has one) and its exposed members. Members that are masked, not
// selected by the route's mode, unexported, or Init, OnClose and RouteDocs
// never appear. The built-in ping is described as taking and answering an
// object.
func (r *Registry) Routes() []RouteInfo {
	m := r.load()
	var out []RouteInfo
	for name, ref := range m {
		if ref.fr != nil {
			out = append(out, ref.fr.m.info(name, ref.fr.doc))
			continue
		}
		sr := ref.sr
		if sr.init != nil {
			d := sr.doc
			if t, ok := sr.docs["Init"]; ok {
				d.text = t
			}
			out = append(out, sr.init.info(name, d))
		}
		for wire, mm := range sr.members {
			out = append(out, mm.info(name+"."+wire, routeDoc{text: sr.docs[sr.goNames[wire]]}))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// typeObject is the type ping is described with.
var typeObject = reflect.TypeFor[map[string]any]()

// info describes the method under the wire name.
func (m *method) info(name string, d routeDoc) RouteInfo {
	ri := RouteInfo{Name: name, Doc: d.text}
	h := m.shape
	if h == nil { // the built-in ping echoes an object
		ri.Params = ParamsInfo{Kind: ParamsMap, Types: []reflect.Type{typeObject}}
		ri.Result = typeObject
		ri.Errors = append([]string{TypeTypeError}, d.errorTypes...)
		return ri
	}
	switch h.kind {
	case paramsNone:
		ri.Params.Kind = ParamsNone
	case paramsNamed:
		ri.Params.Kind = ParamsNamed
		st := h.named.vt.typ
		ri.Params.Struct = st
		for _, f := range h.named.fields {
			ri.Params.Fields = append(ri.Params.Fields, ParamField{
				Name:     f.name,
				GoName:   st.FieldByIndex(f.index).Name,
				Type:     f.vt.typ,
				Required: f.required,
			})
		}
	case paramsMap, paramsRaw, paramsPositional:
		ri.Params.Kind = ParamsPositional
		if h.kind == paramsMap {
			ri.Params.Kind = ParamsMap
		} else if h.kind == paramsRaw {
			ri.Params.Kind = ParamsRaw
		}
		for _, a := range h.args {
			ri.Params.Types = append(ri.Params.Types, a.typ)
		}
	}
	ri.Errors = []string{TypeTypeError, TypeRuntimeError}
	if h.hasResult {
		ri.Result = h.result.typ
		ri.Errors = append(ri.Errors, TypeValueError)
	}
	if h.hasErr {
		ri.Errors = append(ri.Errors, TypeException, TypeTimeoutError)
	}
	ri.Errors = append(ri.Errors, d.errorTypes...)
	return ri
}
