// This file owns the codec of a call: it decodes params into a handler's
// arguments, calls it, and encodes its result, with the tables shape.go
// built.

package wsrpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unsafe"

	"github.com/mailru/easyjson"
	"github.com/mailru/easyjson/jlexer"
	"github.com/mailru/easyjson/jwriter"
)

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

// receiver is a struct route's instance as a call needs it: the fast path
// takes the pointer as it is, reflection makes a reflect.Value of it. The
// zero receiver is none (a function route).
type receiver struct {
	elem reflect.Type   // the struct type T
	ptr  unsafe.Pointer // the *T
}

// value returns the receiver as a reflect.Value of type *T.
func (r receiver) value() reflect.Value {
	if r.ptr == nil {
		return reflect.Value{}
	}
	return reflect.NewAt(r.elem, r.ptr)
}

func (h *handler) call(ctx context.Context, recv receiver, params []byte, out *jwriter.Writer) error {
	params = trimJSONSpace(params)
	if h.fast != nil {
		if handled, err := h.fast.call(ctx, recv, params, out); handled {
			return err
		}
	}
	return h.callReflect(ctx, recv, params, out)
}

// callReflect is call through reflect.Value.Call, for every shape.
func (h *handler) callReflect(ctx context.Context, recv receiver, params []byte, out *jwriter.Writer) error {
	var stack [6]reflect.Value
	in := stack[:0]
	if h.recv {
		in = append(in, recv.value())
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

	v := reflect.New(np.vt.typ)
	if obj != nil && np.direct {
		if np.decodeDirect(obj, v.UnsafePointer()) {
			return appendNamed(in, v, np.ptr), nil
		}
		v = reflect.New(np.vt.typ) // the two-pass path words the problem
	}
	if err := h.checkKeys(obj); err != nil {
		return nil, err
	}
	if obj != nil {
		if err := decodeInto(obj, v, np.vt.easy); err != nil {
			return nil, h.namedDecodeError(obj, err)
		}
	}
	return appendNamed(in, v, np.ptr), nil
}

// appendNamed appends the decoded params *T at v, or T.
func appendNamed(in []reflect.Value, v reflect.Value, ptr bool) []reflect.Value {
	if ptr {
		return append(in, v)
	}
	return append(in, v.Elem())
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
