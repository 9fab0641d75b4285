package wsrpc

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/mailru/easyjson"
	"github.com/mailru/easyjson/jlexer"
	"github.com/mailru/easyjson/jwriter"
)

// paramsKind is how a handler takes its params.
type paramsKind uint8

const (
	paramsNone       paramsKind = iota // no params
	paramsNamed                        // one struct: a JSON object maps to its fields
	paramsMap                          // one map[string]T: receives the object
	paramsRaw                          // one json.RawMessage or easyjson.RawMessage: the raw params
	paramsPositional                   // a JSON array maps to the arguments in order
)

var (
	typeContext    = reflect.TypeFor[context.Context]()
	typeError      = reflect.TypeFor[error]()
	typeRawMessage = reflect.TypeFor[json.RawMessage]()
	typeEasyRaw    = reflect.TypeFor[easyjson.RawMessage]()
	typeMarshaler  = reflect.TypeFor[easyjson.Marshaler]()
)

// signature is a handler's shape, checked and analysed once at Add time.
type signature struct {
	name      string        // for messages: "subtract" or "Storage.Get"
	fn        reflect.Value // the func, or the method's func (receiver first)
	hasRecv   bool
	hasCtx    bool
	kind      paramsKind
	params    []reflect.Type // the arguments after ctx
	named     *namedParams
	hasResult bool
	hasErr    bool
	result    reflect.Type
}

// namedParams describes the struct of a paramsNamed handler.
type namedParams struct {
	typ      reflect.Type // the struct type
	ptr      bool         // the handler takes *T
	fields   map[string]int
	names    []string // JSON names by index
	index    [][]int  // reflect field index paths by index
	required []int    // indexes of required fields
}

// analyse checks the shape of fn (of type ft; with a receiver first when
// hasRecv) and returns its signature, or an error naming the rule broken.
func analyse(name string, fn reflect.Value, ft reflect.Type, hasRecv bool) (*signature, error) {
	s := &signature{name: name, fn: fn, hasRecv: hasRecv}
	if ft.IsVariadic() {
		return nil, fmt.Errorf("%s: variadic handlers are not supported", name)
	}
	i := 0
	if hasRecv {
		i = 1
	}
	if i < ft.NumIn() && ft.In(i) == typeContext {
		s.hasCtx = true
		i++
	}
	for ; i < ft.NumIn(); i++ {
		t := ft.In(i)
		if t == typeContext {
			return nil, fmt.Errorf("%s: context.Context must be the first parameter", name)
		}
		if err := checkEncodable(t); err != nil {
			return nil, fmt.Errorf("%s: parameter %d: %w", name, len(s.params)+1, err)
		}
		s.params = append(s.params, t)
	}
	switch {
	case len(s.params) == 0:
		s.kind = paramsNone
	case len(s.params) == 1 && (s.params[0] == typeRawMessage || s.params[0] == typeEasyRaw):
		s.kind = paramsRaw
	case len(s.params) == 1 && s.params[0].Kind() == reflect.Map && s.params[0].Key().Kind() == reflect.String:
		s.kind = paramsMap
	case len(s.params) == 1 && isStruct(s.params[0]):
		s.kind = paramsNamed
		s.named = analyseNamed(s.params[0])
	default:
		s.kind = paramsPositional
	}
	switch ft.NumOut() {
	case 0:
	case 1:
		if ft.Out(0) == typeError {
			s.hasErr = true
		} else {
			s.hasResult, s.result = true, ft.Out(0)
		}
	case 2:
		if ft.Out(1) != typeError {
			return nil, fmt.Errorf("%s: the second result must be error", name)
		}
		if ft.Out(0) == typeError {
			return nil, fmt.Errorf("%s: the first of two results must not be error", name)
		}
		s.hasResult, s.hasErr, s.result = true, true, ft.Out(0)
	default:
		return nil, fmt.Errorf("%s: a handler returns at most (result, error)", name)
	}
	if s.hasResult {
		if err := checkEncodable(s.result); err != nil {
			return nil, fmt.Errorf("%s: result: %w", name, err)
		}
	}
	return s, nil
}

func isStruct(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Struct
}

func checkEncodable(t reflect.Type) error {
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.UnsafePointer, reflect.Complex64, reflect.Complex128:
		return fmt.Errorf("type %s cannot travel as JSON", t)
	}
	return nil
}

// analyseNamed lists the JSON names of a struct's fields and which are
// required: all but pointers and fields tagged omitempty, omitzero or
// wsrpc:"optional".
func analyseNamed(t reflect.Type) *namedParams {
	np := &namedParams{typ: t, fields: make(map[string]int)}
	if t.Kind() == reflect.Pointer {
		np.ptr, np.typ = true, t.Elem()
	}
	var walk func(st reflect.Type, path []int)
	walk = func(st reflect.Type, path []int) {
		for i := 0; i < st.NumField(); i++ {
			f := st.Field(i)
			fpath := append(append([]int(nil), path...), i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct && f.Type.Kind() != reflect.Pointer {
					walk(ft, fpath)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if _, dup := np.fields[name]; dup {
				continue
			}
			idx := len(np.names)
			np.fields[name] = idx
			np.names = append(np.names, name)
			np.index = append(np.index, fpath)
			optional := f.Type.Kind() == reflect.Pointer || f.Tag.Get("wsrpc") == "optional" ||
				hasOpt(opts, "omitempty") || hasOpt(opts, "omitzero")
			if !optional {
				np.required = append(np.required, idx)
			}
		}
	}
	walk(np.typ, nil)
	return np
}

func hasOpt(opts, want string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == want {
			return true
		}
	}
	return false
}

// typeErrorf is a TypeError reply, as Python raises for bad arguments.
func typeErrorf(format string, args ...any) *Error {
	return &Error{Type: TypeTypeError, Message: fmt.Sprintf(format, args...)}
}

// paramsShape classifies raw params: 0 absent or null, '{', '[', or 's' for
// any other value.
func paramsShape(params []byte) byte {
	for _, b := range params {
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		case '{', '[':
			return b
		case 'n':
			return 0
		default:
			return 's'
		}
	}
	return 0
}

// args decodes params into the handler's arguments (after ctx).
func (s *signature) args(params []byte) ([]reflect.Value, error) {
	shape := paramsShape(params)
	switch s.kind {
	case paramsNone:
		if shape == '{' && isEmptyObject(params) || shape == '[' && isEmptyArray(params) || shape == 0 {
			return nil, nil
		}
		return nil, typeErrorf("%s() takes no arguments", s.name)
	case paramsRaw:
		v := reflect.New(s.params[0]).Elem()
		if shape != 0 {
			v.SetBytes(append([]byte(nil), params...))
		}
		return []reflect.Value{v}, nil
	case paramsMap:
		v := reflect.New(s.params[0])
		switch shape {
		case 0:
		case '{':
			if err := decodeValue(params, v); err != nil {
				return nil, typeErrorf("%s() got a bad argument: %v", s.name, err)
			}
		default:
			return nil, typeErrorf("%s() takes keyword arguments only", s.name)
		}
		return []reflect.Value{v.Elem()}, nil
	case paramsNamed:
		switch shape {
		case '[':
			elems, err := splitArray(params)
			if err != nil {
				return nil, typeErrorf("%s() got malformed arguments: %v", s.name, err)
			}
			if len(elems) == 1 && paramsShape(elems[0]) == '{' && !s.named.firstTakesObject() {
				return s.decodeNamed(elems[0])
			}
			return s.decodePositionalFields(elems)
		case '{', 0:
			return s.decodeNamed(params)
		default:
			return nil, typeErrorf("%s() takes keyword arguments (one JSON object)", s.name)
		}
	}
	// Positional.
	var elems [][]byte
	switch shape {
	case 0:
	case '[':
		var err error
		if elems, err = splitArray(params); err != nil {
			return nil, typeErrorf("%s() got malformed arguments: %v", s.name, err)
		}
	case '{':
		if isEmptyObject(params) {
			break
		}
		return nil, typeErrorf("%s() takes positional arguments (a JSON array), not keyword arguments", s.name)
	default:
		elems = [][]byte{params}
	}
	if len(elems) != len(s.params) {
		return nil, typeErrorf("%s() takes %d positional arguments but %d were given", s.name, len(s.params), len(elems))
	}
	out := make([]reflect.Value, len(elems))
	for i, raw := range elems {
		v := reflect.New(s.params[i])
		if err := decodeValue(raw, v); err != nil {
			return nil, typeErrorf("%s() argument %d: %v", s.name, i+1, err)
		}
		out[i] = v.Elem()
	}
	return out, nil
}

// decodeNamed checks the keys of a JSON object against the struct's fields
// (unknown → TypeError, missing required → TypeError) and decodes it.
func (s *signature) decodeNamed(obj []byte) ([]reflect.Value, error) {
	np := s.named
	var seenSmall [4]uint64
	seen := seenSmall[:]
	if n := len(np.names); n > 256 {
		seen = make([]uint64, (n+63)/64)
	}
	if len(obj) > 0 && paramsShape(obj) == '{' {
		l := jlexer.Lexer{Data: obj}
		l.Delim('{')
		for !l.IsDelim('}') && l.Ok() {
			key := l.UnsafeFieldName(false)
			l.WantColon()
			idx, ok := np.fields[key]
			if !ok && l.Ok() {
				return nil, typeErrorf("%s() got an unexpected keyword argument '%s'", s.name, key)
			}
			seen[idx/64] |= 1 << (idx % 64)
			l.SkipRecursive()
			l.WantComma()
		}
		l.Delim('}')
		if err := l.Error(); err != nil {
			return nil, typeErrorf("%s() got malformed arguments: %v", s.name, err)
		}
	}
	for _, idx := range np.required {
		if seen[idx/64]&(1<<(idx%64)) == 0 {
			return nil, typeErrorf("%s() missing required argument '%s'", s.name, np.names[idx])
		}
	}
	v := reflect.New(np.typ)
	if len(obj) > 0 && paramsShape(obj) == '{' {
		if err := decodeValue(obj, v); err != nil {
			return nil, typeErrorf("%s() got a bad argument: %v", s.name, err)
		}
	}
	if np.ptr {
		return []reflect.Value{v}, nil
	}
	return []reflect.Value{v.Elem()}, nil
}

// firstTakesObject reports whether the struct's first field can hold a JSON
// object, which makes [ {...} ] a positional call rather than named params
// wrapped in an array.
func (np *namedParams) firstTakesObject() bool {
	if len(np.index) == 0 {
		return false
	}
	switch np.typ.FieldByIndex(np.index[0]).Type.Kind() {
	case reflect.Struct, reflect.Map, reflect.Interface, reflect.Pointer:
		return true
	}
	return false
}

// decodePositionalFields maps a JSON array onto the struct's fields in
// declaration order, as Python maps positional arguments to parameters.
func (s *signature) decodePositionalFields(elems [][]byte) ([]reflect.Value, error) {
	np := s.named
	if len(elems) > len(np.names) {
		return nil, typeErrorf("%s() takes %d positional arguments but %d were given", s.name, len(np.names), len(elems))
	}
	v := reflect.New(np.typ)
	for i, raw := range elems {
		if err := decodeValue(raw, v.Elem().FieldByIndex(np.index[i]).Addr()); err != nil {
			return nil, typeErrorf("%s() argument '%s': %v", s.name, np.names[i], err)
		}
	}
	for _, idx := range np.required {
		if idx >= len(elems) {
			return nil, typeErrorf("%s() missing required argument '%s'", s.name, np.names[idx])
		}
	}
	if np.ptr {
		return []reflect.Value{v}, nil
	}
	return []reflect.Value{v.Elem()}, nil
}

// decodeValue decodes raw into the value ptr points to, with easyjson when
// the type has generated code, else encoding/json. Numbers that do not fit
// the target exactly are errors.
func decodeValue(raw []byte, ptr reflect.Value) error {
	if u, ok := ptr.Interface().(easyjson.Unmarshaler); ok {
		l := jlexer.Lexer{Data: raw}
		u.UnmarshalEasyJSON(&l)
		l.Consumed()
		return l.Error()
	}
	return json.Unmarshal(raw, ptr.Interface())
}

func isEmptyObject(b []byte) bool { return isEmpty(b, '{', '}') }
func isEmptyArray(b []byte) bool  { return isEmpty(b, '[', ']') }

func isEmpty(b []byte, open, close byte) bool {
	state := 0
	for _, c := range b {
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
		case state == 0 && c == open:
			state = 1
		case state == 1 && c == close:
			state = 2
		default:
			return false
		}
	}
	return state == 2
}

// splitArray returns the raw elements of a JSON array.
func splitArray(raw []byte) ([][]byte, error) {
	l := jlexer.Lexer{Data: raw}
	var out [][]byte
	l.Delim('[')
	for !l.IsDelim(']') && l.Ok() {
		out = append(out, l.Raw())
		l.WantComma()
	}
	l.Delim(']')
	l.Consumed()
	return out, l.Error()
}

// invoke decodes params, calls the handler and appends its encoded result.
func (s *signature) invoke(ctx context.Context, recv reflect.Value, params []byte, out *jwriter.Writer) error {
	args, err := s.args(params)
	if err != nil {
		return err
	}
	in := make([]reflect.Value, 0, 2+len(args))
	if s.hasRecv {
		in = append(in, recv)
	}
	if s.hasCtx {
		in = append(in, reflect.ValueOf(&ctx).Elem())
	}
	in = append(in, args...)
	res := s.fn.Call(in)
	if s.hasErr {
		if e := res[len(res)-1]; !e.IsNil() {
			return e.Interface().(error)
		}
	}
	if !s.hasResult {
		out.RawString("null")
		return nil
	}
	return encodeResult(out, res[0])
}

// encodeResult appends v as JSON: easyjson code when the type has it, else
// encoding/json ([]byte as padded base64, as the reference). A value that
// cannot be encoded (NaN, a channel in an interface, ...) is a ValueError.
func encodeResult(out *jwriter.Writer, v reflect.Value) error {
	if (v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer || v.Kind() == reflect.Map || v.Kind() == reflect.Slice) && v.IsNil() {
		out.RawString("null")
		return nil
	}
	if m, ok := v.Interface().(easyjson.Marshaler); ok {
		var w jwriter.Writer
		m.MarshalEasyJSON(&w)
		if w.Error != nil {
			return cannotSerialize(v, w.Error)
		}
		b, _ := w.BuildBytes()
		out.Raw(b, nil)
		return nil
	}
	if v.CanAddr() || v.Kind() != reflect.Pointer {
		if reflect.PointerTo(v.Type()).Implements(typeMarshaler) {
			p := reflect.New(v.Type())
			p.Elem().Set(v)
			return encodeResult(out, p)
		}
	}
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return cannotSerialize(v, err)
	}
	out.Raw(b, nil)
	return nil
}

func cannotSerialize(v reflect.Value, err error) *Error {
	t := v.Type()
	if v.Kind() == reflect.Interface && !v.IsNil() {
		t = v.Elem().Type()
	}
	return &Error{Type: TypeValueError, Message: fmt.Sprintf("Can not serialize <type %s>: %v", t, err)}
}
