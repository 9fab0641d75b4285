package wsrpc

import (
	"context"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mailru/easyjson"
	"github.com/mailru/easyjson/jlexer"
	"github.com/mailru/easyjson/jwriter"
)

// method is one callable handler: a function route, a struct route's exposed
// method, or its Init. Everything it needs is computed once, at Registry.Add.
type method struct {
	name string // for messages and hooks: "subtract" or "Storage.Get"

	// call decodes params (the raw JSON of the "params" member, nil when
	// absent or null), calls the handler (recv is the instance pointer for
	// struct routes, the zero Value for function routes) and appends exactly
	// one JSON value, the encoded result, to out ("null" for no result).
	//
	// Params that do not fit give an *Error of type TypeError; a result that
	// cannot be encoded gives an *Error of type ValueError. An error returned
	// by the handler is returned unchanged. Panics are not recovered.
	call func(ctx context.Context, recv reflect.Value, params []byte, out *jwriter.Writer) error
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
}

// namedParams describes the struct a paramsNamed handler takes.
type namedParams struct {
	vt       valueType // the struct type itself
	ptr      bool      // the handler takes *T rather than T
	fields   []namedField
	byKey    map[string]int // JSON key → index in fields
	required []int          // indexes in fields of the required ones
	words    int            // uint64 words of the "seen" bit set
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
	return &method{name: name, call: h.call}, nil
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

// --- call path ---

// shape of raw params.
const (
	shapeAbsent = iota // no params, or null
	shapeObject
	shapeArray
	shapeScalar
)

func shapeOf(params []byte) int {
	if len(params) == 0 {
		return shapeAbsent
	}
	switch params[0] {
	case '{':
		return shapeObject
	case '[':
		return shapeArray
	case 'n':
		if string(params) == "null" {
			return shapeAbsent
		}
	}
	return shapeScalar
}

// jsonKind names the kind of the raw JSON value v for error messages.
func jsonKind(v []byte) string {
	v = trimJSONSpace(v)
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func trimJSONSpace(b []byte) []byte {
	for len(b) > 0 && isJSONSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isJSONSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func (h *handler) call(ctx context.Context, recv reflect.Value, params []byte, out *jwriter.Writer) error {
	params = trimJSONSpace(params)
	if h.fast != nil {
		if handled, err := h.fast.call(ctx, recv, params, out); handled {
			return err
		}
	}
	return h.callReflect(ctx, recv, params, out)
}

// callReflect is call through reflect.Value.Call, for every shape.
func (h *handler) callReflect(ctx context.Context, recv reflect.Value, params []byte, out *jwriter.Writer) error {
	var stack [6]reflect.Value
	in := stack[:0]
	if h.recv {
		in = append(in, recv)
	}
	if h.ctx {
		in = append(in, reflect.ValueOf(&ctx).Elem())
	}
	var err error
	switch h.kind {
	case paramsNone:
		err = h.noParams(params)
	case paramsNamed:
		in, err = h.namedArgs(in, params)
	case paramsMap:
		in, err = h.mapArg(in, params)
	case paramsRaw:
		v := reflect.New(h.args[0].typ).Elem()
		if shapeOf(params) != shapeAbsent {
			// A copy: the engine may reuse its buffer once the call returns.
			v.SetBytes(append([]byte(nil), params...))
		}
		in = append(in, v)
	default:
		in, err = h.positionalArgs(in, params)
	}
	if err != nil {
		return err
	}
	res := h.fn.Call(in)
	if h.hasErr {
		if e := res[len(res)-1]; !e.IsNil() {
			return e.Interface().(error)
		}
	}
	if !h.hasResult {
		out.RawString("null")
		return nil
	}
	return h.result.encode(out, res[0])
}

func (h *handler) noParams(params []byte) error {
	switch shapeOf(params) {
	case shapeAbsent:
		return nil
	case shapeObject:
		l := jlexer.Lexer{Data: params}
		l.Delim('{')
		if !l.IsDelim('}') && l.Ok() {
			key := l.UnsafeFieldName(false)
			if l.Ok() {
				return typeErrorf("%s() got an unexpected keyword argument '%s'", h.name, key)
			}
		}
		l.Delim('}')
		l.Consumed()
		if err := l.Error(); err != nil {
			return typeErrorf("%s() got malformed params: %v", h.name, err)
		}
		return nil
	case shapeArray:
		var buf [8][]byte
		elems, err := splitArray(params, buf[:0])
		if err != nil {
			return typeErrorf("%s() got malformed params: %v", h.name, err)
		}
		if len(elems) == 0 {
			return nil
		}
		return positionalCountError(h.name, 0, len(elems))
	}
	return positionalCountError(h.name, 0, 1)
}

func (h *handler) positionalArgs(in []reflect.Value, params []byte) ([]reflect.Value, error) {
	var buf [8][]byte
	var elems [][]byte
	switch shapeOf(params) {
	case shapeAbsent:
		return nil, missingPositional(h.name, len(h.args))
	case shapeObject:
		if isEmptyObject(params) {
			return nil, missingPositional(h.name, len(h.args))
		}
		return nil, typeErrorf("%s() takes positional arguments (a JSON array), not keyword arguments", h.name)
	case shapeArray:
		var err error
		if elems, err = splitArray(params, buf[:0]); err != nil {
			return nil, typeErrorf("%s() got malformed params: %v", h.name, err)
		}
	default:
		elems = append(buf[:0], params)
	}
	if len(elems) != len(h.args) {
		return nil, positionalCountError(h.name, len(h.args), len(elems))
	}
	for i, raw := range elems {
		a := h.args[i]
		if a.number && !numberOrNull(raw) {
			return nil, notANumberError(h.name, strconv.Itoa(i+1), raw)
		}
		v := reflect.New(a.typ)
		if err := decodeInto(raw, v, a.easy); err != nil {
			return nil, typeErrorf("%s() argument %d: %s", h.name, i+1, describeDecodeError(err))
		}
		in = append(in, v.Elem())
	}
	return in, nil
}

func (h *handler) mapArg(in []reflect.Value, params []byte) ([]reflect.Value, error) {
	a := h.args[0]
	switch shapeOf(params) {
	case shapeAbsent:
		return append(in, reflect.MakeMap(a.typ)), nil
	case shapeArray, shapeScalar:
		if !isEmptyArray(params) {
			return nil, keywordOnlyError(h.name, params)
		}
		return append(in, reflect.MakeMap(a.typ)), nil
	}
	v := reflect.New(a.typ)
	if err := decodeInto(params, v, a.easy); err != nil {
		return nil, typeErrorf("%s() got a bad keyword argument: %s", h.name, describeDecodeError(err))
	}
	if v.Elem().IsNil() {
		v.Elem().Set(reflect.MakeMap(a.typ))
	}
	return append(in, v.Elem()), nil
}

// keywordOnlyError is the TypeError for positional params sent to a
// handler that takes named params (a struct or a map): as on the reference,
// whose routes take keyword arguments only, an array is not mapped onto the
// fields.
func keywordOnlyError(name string, params []byte) *Error {
	return typeErrorf("%s() takes keyword arguments only: params must be a JSON object, not %s", name, jsonKind(params))
}

func (h *handler) namedArgs(in []reflect.Value, params []byte) ([]reflect.Value, error) {
	np := h.named
	var obj []byte
	switch shapeOf(params) {
	case shapeObject:
		obj = params
	case shapeArray, shapeScalar:
		// An empty array is no arguments at all, as in Python.
		if !isEmptyArray(params) {
			return nil, keywordOnlyError(h.name, params)
		}
	}

	if err := h.checkKeys(obj); err != nil {
		return nil, err
	}
	v := reflect.New(np.vt.typ)
	if obj != nil {
		if err := decodeInto(obj, v, np.vt.easy); err != nil {
			return nil, h.namedDecodeError(obj, err)
		}
	}
	if np.ptr {
		return append(in, v), nil
	}
	return append(in, v.Elem()), nil
}

// checkKeys checks the keys of a named-params object (nil when params were
// absent): an unknown key or a missing required field is a TypeError. It
// allocates nothing for keys without escapes.
func (h *handler) checkKeys(obj []byte) error {
	np := h.named
	// Check the keys: no allocation for keys without escapes.
	var seenBuf [4]uint64
	seen := seenBuf[:]
	if np.words > len(seenBuf) {
		seen = make([]uint64, np.words)
	}
	if obj != nil {
		l := jlexer.Lexer{Data: obj}
		l.Delim('{')
		for l.Ok() && !l.IsDelim('}') {
			key := l.UnsafeFieldName(false)
			l.WantColon()
			if !l.Ok() {
				break
			}
			i, ok := np.byKey[key]
			if !ok {
				return typeErrorf("%s() got an unexpected keyword argument '%s'", h.name, key)
			}
			seen[i/64] |= 1 << (i % 64)
			if np.fields[i].vt.number {
				if v := l.Raw(); l.Ok() && !numberOrNull(v) {
					return notANumberError(h.name, key, v)
				}
			} else {
				l.SkipRecursive()
			}
			l.WantComma()
		}
		l.Delim('}')
		l.Consumed()
		if err := l.Error(); err != nil {
			return typeErrorf("%s() got malformed params: %v", h.name, err)
		}
	}
	for _, i := range np.required {
		if seen[i/64]&(1<<(i%64)) == 0 {
			return typeErrorf("%s() missing required argument '%s'", h.name, np.fields[i].name)
		}
	}
	return nil
}

// namedDecodeError turns a decoding error of a params object into a
// TypeError naming the argument (the JSON key) when it can be found.
func (h *handler) namedDecodeError(obj []byte, err error) *Error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		key, _, _ := strings.Cut(te.Field, ".")
		return typeErrorf("%s() argument '%s': %s", h.name, key, describeDecodeError(err))
	}
	var le *jlexer.LexerError
	if errors.As(err, &le) {
		if key, ok := keyAtOffset(obj, le.Offset); ok {
			return typeErrorf("%s() argument '%s': %s", h.name, key, describeDecodeError(err))
		}
	}
	return typeErrorf("%s() got a bad argument: %s", h.name, describeDecodeError(err))
}

// keyAtOffset returns the key of the member of the JSON object obj whose
// value spans offset.
func keyAtOffset(obj []byte, offset int) (string, bool) {
	l := jlexer.Lexer{Data: obj}
	l.Delim('{')
	for l.Ok() && !l.IsDelim('}') {
		key := l.String()
		l.WantColon()
		start := l.GetPos()
		l.SkipRecursive()
		if l.Ok() && offset >= start && offset <= l.GetPos() {
			return key, true
		}
		l.WantComma()
	}
	return "", false
}

// describeDecodeError words a decoding error for a TypeError message.
func describeDecodeError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "cannot use JSON " + te.Value + " as " + te.Type.String()
	}
	var le *jlexer.LexerError
	if errors.As(err, &le) {
		return le.Reason + " near '" + le.Data + "'"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// decodeInto decodes raw into the value ptr points to: with the type's
// easyjson code when it has some, else with encoding/json. Numbers that do
// not fit the target (1.5 or 1e300 for an int) are errors on both paths.
func decodeInto(raw []byte, ptr reflect.Value, easy bool) error {
	if easy {
		// easyjson code may keep slices of its input (RawMessage, nocopy
		// strings), and the engine may reuse the buffer after the call.
		l := jlexer.Lexer{Data: append([]byte(nil), raw...)}
		ptr.Interface().(easyjson.Unmarshaler).UnmarshalEasyJSON(&l)
		l.Consumed()
		return l.Error()
	}
	return json.Unmarshal(raw, ptr.Interface())
}

func isEmptyArray(b []byte) bool {
	b = trimJSONSpace(b)
	return len(b) >= 2 && b[0] == '[' && b[len(b)-1] == ']' && len(trimJSONSpace(b[1:len(b)-1])) == 0
}

func isEmptyObject(b []byte) bool {
	b = trimJSONSpace(b)
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return false
	}
	return len(trimJSONSpace(b[1:len(b)-1])) == 0
}

// splitArray appends the raw elements of the JSON array raw to dst.
func splitArray(raw []byte, dst [][]byte) ([][]byte, error) {
	l := jlexer.Lexer{Data: raw}
	l.Delim('[')
	for l.Ok() && !l.IsDelim(']') {
		e := l.Raw()
		if !l.Ok() {
			break
		}
		dst = append(dst, trimJSONSpace(e))
		l.WantComma()
	}
	l.Delim(']')
	l.Consumed()
	return dst, l.Error()
}

func typeErrorf(format string, args ...any) *Error {
	return &Error{Type: TypeTypeError, Message: fmt.Sprintf(format, args...)}
}

func positionalCountError(name string, want, got int) *Error {
	s, verb := "s", "were"
	if want == 1 {
		s = ""
	}
	if got == 1 {
		verb = "was"
	}
	return typeErrorf("%s() takes %d positional argument%s but %d %s given", name, want, s, got, verb)
}

func missingPositional(name string, n int) *Error {
	s := "s"
	if n == 1 {
		s = ""
	}
	return typeErrorf("%s() missing %d required positional argument%s", name, n, s)
}

// encode appends the result v as JSON: with easyjson when the type
// implements easyjson.Marshaler (on the value or the pointer), else with
// encoding/json (so []byte is padded standard base64, as the reference).
// Values that cannot be encoded (NaN, channels in an interface, ...) give a
// ValueError "Can not serialize <type T>: reason".
func (r *resultType) encode(out *jwriter.Writer, v reflect.Value) error {
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			out.RawString("null")
			return nil
		}
		return encodeDynamic(out, v.Elem())
	case reflect.Pointer:
		if v.IsNil() {
			out.RawString("null")
			return nil
		}
	}
	switch {
	case r.easyVal:
		return encodeEasy(out, v.Interface().(easyjson.Marshaler), r.typ)
	case r.easyPtr:
		p := reflect.New(r.typ)
		p.Elem().Set(v)
		return encodeEasy(out, p.Interface().(easyjson.Marshaler), r.typ)
	}
	return encodeStd(out, v)
}

// encodeDynamic encodes the dynamic value of an interface result.
func encodeDynamic(out *jwriter.Writer, v reflect.Value) error {
	if v.Kind() == reflect.Pointer && v.IsNil() {
		out.RawString("null")
		return nil
	}
	if m, ok := v.Interface().(easyjson.Marshaler); ok {
		return encodeEasy(out, m, v.Type())
	}
	return encodeStd(out, v)
}

func encodeEasy(out *jwriter.Writer, m easyjson.Marshaler, t reflect.Type) error {
	before := out.Error
	m.MarshalEasyJSON(out)
	if before == nil && out.Error != nil {
		return cannotSerialize(t, out.Error)
	}
	return nil
}

func encodeStd(out *jwriter.Writer, v reflect.Value) error {
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return cannotSerialize(v.Type(), err)
	}
	out.Raw(b, nil)
	return nil
}

func cannotSerialize(t reflect.Type, err error) *Error {
	return &Error{Type: TypeValueError, Message: "Can not serialize <type " + t.String() + ">: " + strings.TrimPrefix(err.Error(), "json: ")}
}
