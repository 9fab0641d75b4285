// This file owns the handler shapes: what Registry.Add accepts, checked once
// (newMethod), and the tables the codec decodes params and encodes results
// with.

package wsrpc

import (
	"context"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mailru/easyjson"
	"github.com/mailru/easyjson/jwriter"
)

// method is one callable handler: a function route, a struct route's exposed
// method, or its Init. Everything it needs is computed once, at Registry.Add.
type method struct {
	name string // for messages: the name a call uses, "subtract" or "kv.get" ("kv" for Init)

	// call decodes params (the raw JSON of the "params" member, nil when
	// absent or null), calls the handler (recv is the instance pointer for
	// struct routes, the zero Value for function routes) and appends exactly
	// one JSON value, the encoded result, to out ("null" for no result).
	//
	// Params that do not fit give an *Error of type TypeError; a result that
	// cannot be encoded gives an *Error of type ValueError. An error returned
	// by the handler is returned unchanged. Panics are not recovered.
	call func(ctx context.Context, recv receiver, params []byte, out *jwriter.Writer) error

	shape *handler // the checked shape, for Registry.Routes; nil for the built-in ping
}

// paramKind is how a handler takes its params.
type paramKind uint8

const (
	paramsNone       paramKind = iota // no parameters (besides ctx)
	paramsNamed                       // one struct: JSON object keys map to its fields
	paramsMap                         // one map[string]T: receives the JSON object
	paramsRaw                         // one json.RawMessage or easyjson.RawMessage: params verbatim
	paramsPositional                  // any other list: JSON array elements in order
)

var (
	typeContext         = reflect.TypeFor[context.Context]()
	typeError           = reflect.TypeFor[error]()
	typeJSONRaw         = reflect.TypeFor[json.RawMessage]()
	typeEasyRaw         = reflect.TypeFor[easyjson.RawMessage]()
	typeEasyMarshaler   = reflect.TypeFor[easyjson.Marshaler]()
	typeEasyUnmarshaler = reflect.TypeFor[easyjson.Unmarshaler]()
	typeJSONUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	typeTextUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// valueType describes a type decoded from JSON.
type valueType struct {
	typ    reflect.Type
	easy   bool // *typ implements easyjson.Unmarshaler: decode with a jlexer
	number bool // json.Number or *json.Number: takes a JSON number only
}

func newValueType(t reflect.Type) valueType {
	return valueType{
		typ:    t,
		easy:   reflect.PointerTo(t).Implements(typeEasyUnmarshaler),
		number: t == typeJSONNumber || t.Kind() == reflect.Pointer && t.Elem() == typeJSONNumber,
	}
}

// numberOrNull reports whether the raw JSON value v is a number or null.
// Both encoding/json and easyjson decode a string such as "1" into a
// json.Number; the reference does not turn strings into numbers, so a
// declared json.Number takes a JSON number (or null) only.
func numberOrNull(v []byte) bool {
	v = trimJSONSpace(v)
	return len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9' || string(v) == "null")
}

// notANumberError is the TypeError for a value that is not a number where
// the handler declares a json.Number; arg is the key or the position.
func notANumberError(name, arg string, v []byte) *Error {
	if arg[0] >= '0' && arg[0] <= '9' {
		return typeErrorf("%s() argument %s must be a number, not %s", name, arg, jsonKind(v))
	}
	return typeErrorf("%s() argument '%s' must be a number, not %s", name, arg, jsonKind(v))
}

// namedField is one field of a named-params struct.
type namedField struct {
	name     string // the JSON key
	index    []int  // for reflect.Value.FieldByIndex, through embedded structs
	vt       valueType
	required bool
	direct   directField // how decodeDirect writes it
}

// namedParams describes the struct a paramsNamed handler takes.
type namedParams struct {
	vt       valueType // the struct type itself
	ptr      bool      // the handler takes *T rather than T
	fields   []namedField
	byKey    map[string]int // JSON key → index in fields
	required []int          // indexes in fields of the required ones
	words    int            // uint64 words of the "seen" bit set
	direct   bool           // decodeDirect can decode it (see planDirect)
}

// resultType describes a handler's result type R.
type resultType struct {
	typ     reflect.Type
	easyVal bool // R implements easyjson.Marshaler
	easyPtr bool // only *R does
}

// handler is a checked handler shape; its call method is method.call.
type handler struct {
	name      string
	fn        reflect.Value // the func; for methods the method expression (receiver first)
	recv      bool
	ctx       bool
	kind      paramKind
	args      []valueType // paramsPositional, paramsMap and paramsRaw: the parameters after ctx
	named     *namedParams
	hasResult bool
	hasErr    bool
	result    resultType
	fast      *fastCall // the call path without reflection, when the shape allows
}

// newMethod checks the shape of fn (a func, or with hasRecv a method
// expression whose first parameter is the receiver) and prepares its
// decoding and encoding. The error states the rule broken, without naming
// the handler: the caller adds that.
func newMethod(name string, fn reflect.Value, hasRecv bool) (*method, error) {
	ft := fn.Type()
	if ft.IsVariadic() {
		return nil, errors.New("variadic functions are not supported")
	}
	h := &handler{name: name, fn: fn, recv: hasRecv}
	first := 0
	if hasRecv {
		first = 1
	}
	var params []reflect.Type
	for i := first; i < ft.NumIn(); i++ {
		t := ft.In(i)
		if t == typeContext {
			if i != first {
				return nil, errors.New("context.Context must be the first parameter")
			}
			h.ctx = true
			continue
		}
		if err := checkDecodable(t); err != nil {
			return nil, fmt.Errorf("parameter %d: %w", i-first+1, err)
		}
		params = append(params, t)
	}
	switch {
	case len(params) == 0:
		h.kind = paramsNone
	case len(params) == 1 && (params[0] == typeJSONRaw || params[0] == typeEasyRaw):
		h.kind = paramsRaw
	case len(params) == 1 && params[0].Kind() == reflect.Map && params[0].Key().Kind() == reflect.String:
		h.kind = paramsMap
	case len(params) == 1 && isParamsStruct(params[0]):
		h.kind = paramsNamed
		np, err := newNamedParams(params[0])
		if err != nil {
			return nil, err
		}
		h.named = np
	default:
		h.kind = paramsPositional
	}
	for _, t := range params {
		h.args = append(h.args, newValueType(t))
	}

	switch ft.NumOut() {
	case 0:
	case 1:
		if ft.Out(0) == typeError {
			h.hasErr = true
		} else {
			h.hasResult = true
		}
	case 2:
		if ft.Out(1) != typeError {
			return nil, errors.New("the second result must be error")
		}
		if ft.Out(0) == typeError {
			return nil, errors.New("the first of two results must not be error")
		}
		h.hasResult, h.hasErr = true, true
	default:
		return nil, fmt.Errorf("%d results: a handler returns nothing, error, a result, or (result, error)", ft.NumOut())
	}
	if h.hasResult {
		t := ft.Out(0)
		if err := checkEncodable(t); err != nil {
			return nil, fmt.Errorf("result: %w", err)
		}
		h.result = resultType{
			typ:     t,
			easyVal: t.Implements(typeEasyMarshaler),
			easyPtr: t.Kind() != reflect.Interface && reflect.PointerTo(t).Implements(typeEasyMarshaler),
		}
	}
	h.fast = newFastCall(h)
	return &method{name: name, call: h.call, shape: h}, nil
}

// isParamsStruct reports whether a single parameter of type t takes named
// params: a struct or pointer to struct, except value types that decode
// themselves from JSON (time.Time, ...) without easyjson code.
func isParamsStruct(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return false
	}
	pt := reflect.PointerTo(t)
	if pt.Implements(typeEasyUnmarshaler) {
		return true
	}
	return !pt.Implements(typeJSONUnmarshaler) && !pt.Implements(typeTextUnmarshaler)
}

func checkDecodable(t reflect.Type) error {
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.UnsafePointer, reflect.Complex64, reflect.Complex128:
		return fmt.Errorf("type %s cannot be decoded from JSON", t)
	case reflect.Interface:
		if t.NumMethod() > 0 {
			return fmt.Errorf("interface type %s cannot be decoded from JSON (use a concrete type or any)", t)
		}
	}
	return nil
}

func checkEncodable(t reflect.Type) error {
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.UnsafePointer, reflect.Complex64, reflect.Complex128:
		return fmt.Errorf("type %s cannot be encoded as JSON", t)
	}
	return nil
}

// newNamedParams lists the JSON keys of a params struct with the rules of
// encoding/json (json tag name, else the Go name; fields of embedded structs
// are promoted, the shallowest wins; json:"-" and unexported fields are
// skipped), and which fields are required.
func newNamedParams(t reflect.Type) (*namedParams, error) {
	np := &namedParams{byKey: make(map[string]int)}
	if t.Kind() == reflect.Pointer {
		np.ptr, t = true, t.Elem()
	}
	np.vt = newValueType(t)

	type candidate struct {
		namedField
		depth  int
		tagged bool
	}
	var cands []candidate
	var walk func(st reflect.Type, index []int, depth int, path map[reflect.Type]bool) error
	walk = func(st reflect.Type, index []int, depth int, path map[reflect.Type]bool) error {
		if path[st] {
			return nil
		}
		path[st] = true
		defer delete(path, st)
		for i := 0; i < st.NumField(); i++ {
			f := st.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			idx := append(append([]int(nil), index...), i)
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
					if !isExportedName(ft.Name()) && ft.Kind() == reflect.Struct {
						continue // encoding/json cannot allocate it either
					}
				}
				if ft.Kind() == reflect.Struct {
					if err := walk(ft, idx, depth+1, path); err != nil {
						return err
					}
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if err := checkDecodable(f.Type); err != nil {
				return fmt.Errorf("field %s of the params struct %s: %w", f.Name, t, err)
			}
			c := candidate{depth: depth, tagged: name != ""}
			if name == "" {
				name = f.Name
			}
			c.name = name
			c.index = idx
			c.vt = newValueType(f.Type)
			c.required = !(f.Type.Kind() == reflect.Pointer || hasOption(opts, "omitempty") ||
				hasOption(opts, "omitzero") || hasOption(f.Tag.Get("wsrpc"), "optional"))
			cands = append(cands, c)
		}
		return nil
	}
	if err := walk(t, nil, 0, map[reflect.Type]bool{}); err != nil {
		return nil, err
	}

	// Resolve name conflicts as encoding/json does: the shallowest field
	// wins; at equal depth a single tagged field wins; otherwise none.
	byName := map[string][]candidate{}
	for _, c := range cands {
		byName[c.name] = append(byName[c.name], c)
	}
	var kept []candidate
	for _, cs := range byName {
		minDepth := cs[0].depth
		for _, c := range cs {
			minDepth = min(minDepth, c.depth)
		}
		var top []candidate
		for _, c := range cs {
			if c.depth == minDepth {
				top = append(top, c)
			}
		}
		if len(top) > 1 {
			var tagged []candidate
			for _, c := range top {
				if c.tagged {
					tagged = append(tagged, c)
				}
			}
			top = tagged
		}
		if len(top) == 1 {
			kept = append(kept, top[0])
		}
	}
	sort.Slice(kept, func(i, j int) bool { return lessIndex(kept[i].index, kept[j].index) })
	for i, c := range kept {
		np.fields = append(np.fields, c.namedField)
		np.byKey[c.name] = i
		if c.required {
			np.required = append(np.required, i)
		}
	}
	np.words = (len(np.fields) + 63) / 64
	np.direct = planDirect(t, np)
	return np, nil
}

func lessIndex(a, b []int) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}

func isExportedName(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsUpper(r)
}

// hasOption reports whether the comma-separated list opts contains want.
func hasOption(opts, want string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if strings.TrimSpace(o) == want {
			return true
		}
	}
	return false
}
