package wsrpc

import (
	"context"
	"encoding"
	"encoding/json"
	"reflect"
	"sync"
	"unsafe"

	"github.com/mailru/easyjson"
	"github.com/mailru/easyjson/jlexer"
	"github.com/mailru/easyjson/jwriter"
)

// The fast path calls handlers of one common shape without
// reflect.Value.Call, which allocates and costs more than a small handler:
//
//	func (s *T) Method(ctx context.Context, p *Params) (R, error)
//	func Handler(ctx context.Context, p *Params) (R, error)
//
// with Params a struct (named params) and R one of: a pointer, a bool or
// integer, a string type (json.Number included), json.RawMessage,
// easyjson.RawMessage or []byte; or no R at all (just error).
//
// At Add time the handler's func value is reinterpreted as a func of the
// same register layout whose pointer arguments are unsafe.Pointer and whose
// result is a machine word, string or slice: Go passes those in the same
// registers, so the call is direct. The *Params comes from a pool and is
// zeroed after the call; the handler must not keep it (or slices of it)
// after it returns.

// lexerPool spares the fast path a lexer allocation per call (a lexer
// handed to generated code escapes).
var lexerPool = sync.Pool{New: func() any { return new(jlexer.Lexer) }}

type fastResult uint8

const (
	fastNone   fastResult = iota // just error
	fastPtr                      // *R
	fastWord                     // bool or an integer kind
	fastString                   // a string kind
	fastBytes                    // json.RawMessage, easyjson.RawMessage, []byte
)

type fastCall struct {
	h       *handler
	result  fastResult
	resType reflect.Type
	resKind reflect.Kind
	number  bool // json.Number
	rawJSON bool // json.RawMessage or easyjson.RawMessage
	resEasy bool // *R implements easyjson.Marshaler (fastPtr)
	pType   reflect.Type
	pEasy   bool
	params  sync.Pool

	// Exactly one of these is set.
	mNone   func(unsafe.Pointer, context.Context, unsafe.Pointer) error
	mPtr    func(unsafe.Pointer, context.Context, unsafe.Pointer) (unsafe.Pointer, error)
	mWord   func(unsafe.Pointer, context.Context, unsafe.Pointer) (uintptr, error)
	mString func(unsafe.Pointer, context.Context, unsafe.Pointer) (string, error)
	mBytes  func(unsafe.Pointer, context.Context, unsafe.Pointer) ([]byte, error)
	fNone   func(context.Context, unsafe.Pointer) error
	fPtr    func(context.Context, unsafe.Pointer) (unsafe.Pointer, error)
	fWord   func(context.Context, unsafe.Pointer) (uintptr, error)
	fString func(context.Context, unsafe.Pointer) (string, error)
	fBytes  func(context.Context, unsafe.Pointer) ([]byte, error)
}

var (
	typeJSONMarshaler = reflect.TypeFor[json.Marshaler]()
	typeTextMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
	typeJSONNumber    = reflect.TypeFor[json.Number]()
	typeBytes         = reflect.TypeFor[[]byte]()
)

// erase reinterprets the func value fn as the func type F, which must have
// the same register layout.
func erase[F any](fn reflect.Value) F {
	f := fn.Interface()
	var out F
	*(*unsafe.Pointer)(unsafe.Pointer(&out)) = (*[2]unsafe.Pointer)(unsafe.Pointer(&f))[1]
	return out
}

// newFastCall returns the fast path for h, or nil when its shape has none.
func newFastCall(h *handler) *fastCall {
	if !h.ctx || h.kind != paramsNamed || !h.named.ptr || !h.hasErr {
		return nil
	}
	fc := &fastCall{h: h, pType: h.named.vt.typ, pEasy: h.named.vt.easy}
	fc.params.New = func() any { return reflect.New(fc.pType).Interface() }
	if h.hasResult {
		t := h.result.typ
		fc.resType, fc.resKind = t, t.Kind()
		custom := t.Implements(typeJSONMarshaler) || t.Implements(typeTextMarshaler) ||
			t.Implements(typeEasyMarshaler) || reflect.PointerTo(t).Implements(typeEasyMarshaler) ||
			reflect.PointerTo(t).Implements(typeJSONMarshaler) || reflect.PointerTo(t).Implements(typeTextMarshaler)
		switch {
		case t.Kind() == reflect.Pointer:
			fc.result = fastPtr
			fc.resEasy = t.Implements(typeEasyMarshaler)
		case t == typeJSONNumber:
			fc.result, fc.number = fastString, true
		case t == typeJSONRaw || t == typeEasyRaw:
			fc.result, fc.rawJSON = fastBytes, true
		case custom:
			return nil
		case t.Kind() == reflect.String:
			fc.result = fastString
		case t == typeBytes:
			fc.result = fastBytes
		case isWordKind(t.Kind()):
			fc.result = fastWord
		default:
			return nil
		}
	}
	fn := h.fn
	if h.recv {
		switch fc.result {
		case fastNone:
			fc.mNone = erase[func(unsafe.Pointer, context.Context, unsafe.Pointer) error](fn)
		case fastPtr:
			fc.mPtr = erase[func(unsafe.Pointer, context.Context, unsafe.Pointer) (unsafe.Pointer, error)](fn)
		case fastWord:
			fc.mWord = erase[func(unsafe.Pointer, context.Context, unsafe.Pointer) (uintptr, error)](fn)
		case fastString:
			fc.mString = erase[func(unsafe.Pointer, context.Context, unsafe.Pointer) (string, error)](fn)
		case fastBytes:
			fc.mBytes = erase[func(unsafe.Pointer, context.Context, unsafe.Pointer) ([]byte, error)](fn)
		}
		return fc
	}
	switch fc.result {
	case fastNone:
		fc.fNone = erase[func(context.Context, unsafe.Pointer) error](fn)
	case fastPtr:
		fc.fPtr = erase[func(context.Context, unsafe.Pointer) (unsafe.Pointer, error)](fn)
	case fastWord:
		fc.fWord = erase[func(context.Context, unsafe.Pointer) (uintptr, error)](fn)
	case fastString:
		fc.fString = erase[func(context.Context, unsafe.Pointer) (string, error)](fn)
	case fastBytes:
		fc.fBytes = erase[func(context.Context, unsafe.Pointer) ([]byte, error)](fn)
	}
	return fc
}

func isWordKind(k reflect.Kind) bool {
	switch k {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	}
	return false
}

// call is handler.call for the fast shape. It reports handled=false for
// params it leaves to the general path (arrays, scalars).
func (fc *fastCall) call(ctx context.Context, recv receiver, params []byte, out *jwriter.Writer) (handled bool, err error) {
	var obj []byte
	switch shapeOf(params) {
	case shapeObject:
		obj = params
	case shapeAbsent:
	default:
		return false, nil
	}
	h := fc.h
	p := fc.params.Get()
	pp := (*[2]unsafe.Pointer)(unsafe.Pointer(&p))[1]
	if obj == nil || !h.named.direct || !fc.decode(ctx, obj, pp) {
		if obj != nil && h.named.direct {
			// The two-pass path finds and words the problem.
			reflect.NewAt(fc.pType, pp).Elem().SetZero()
		}
		err = fc.decodeTwoPass(obj, p)
	}
	if err == nil {
		err = fc.invoke(ctx, recv, pp, out)
	}
	// The params go back to the pool zeroed. Not after a panic (execute
	// recovers it): the pool then makes another.
	if h.named.direct {
		h.named.zeroDirect(pp)
	} else {
		reflect.NewAt(fc.pType, pp).Elem().SetZero()
	}
	fc.params.Put(p)
	return true, err
}

// invoke calls the handler with the decoded params at pp and writes its
// result to out.
func (fc *fastCall) invoke(ctx context.Context, recv receiver, pp unsafe.Pointer, out *jwriter.Writer) (err error) {
	h := fc.h
	var rp unsafe.Pointer
	if h.recv {
		rp = recv.ptr
	}
	switch fc.result {
	case fastNone:
		if h.recv {
			err = fc.mNone(rp, ctx, pp)
		} else {
			err = fc.fNone(ctx, pp)
		}
		if err == nil {
			out.RawString("null")
		}
		return err
	case fastPtr:
		var r unsafe.Pointer
		if h.recv {
			r, err = fc.mPtr(rp, ctx, pp)
		} else {
			r, err = fc.fPtr(ctx, pp)
		}
		if err != nil {
			return err
		}
		return fc.encodePtr(out, r)
	case fastWord:
		var w uintptr
		if h.recv {
			w, err = fc.mWord(rp, ctx, pp)
		} else {
			w, err = fc.fWord(ctx, pp)
		}
		if err != nil {
			return err
		}
		fc.encodeWord(out, w)
		return nil
	case fastString:
		var s string
		if h.recv {
			s, err = fc.mString(rp, ctx, pp)
		} else {
			s, err = fc.fString(ctx, pp)
		}
		if err != nil {
			return err
		}
		if fc.number {
			if s == "" {
				s = "0" // encoding/json writes the zero json.Number as 0
			}
			if !isJSONNumber(s) {
				return cannotSerialize(fc.resType, errInvalidNumber(s))
			}
			out.RawString(s)
			return nil
		}
		out.String(s)
		return nil
	default: // fastBytes
		var b []byte
		if h.recv {
			b, err = fc.mBytes(rp, ctx, pp)
		} else {
			b, err = fc.fBytes(ctx, pp)
		}
		if err != nil {
			return err
		}
		switch {
		case b == nil:
			out.RawString("null")
		case fc.rawJSON:
			if !validJSON(b) {
				return cannotSerialize(fc.resType, errInvalidRaw)
			}
			out.Raw(b, nil)
		default:
			out.Base64Bytes(b)
		}
		return nil
	}
}

// decode is decodeDirect of obj, from the members the frame scan recorded
// when obj is the params of the call whose context ctx is.
func (fc *fastCall) decode(ctx context.Context, obj []byte, p unsafe.Pointer) bool {
	if j, ok := ctx.(*callJob); ok && j.members.ok && sameBytes(j.params, obj) {
		return fc.h.named.decodeMembers(obj, &j.members, p)
	}
	return fc.h.named.decodeDirect(obj, p)
}

// decodeTwoPass checks the keys of obj (nil when params were absent), then
// decodes it into p with the struct's own decoder.
func (fc *fastCall) decodeTwoPass(obj []byte, p any) error {
	h := fc.h
	if err := h.checkKeys(obj); err != nil || obj == nil {
		return err
	}
	var err error
	if fc.pEasy {
		l := lexerPool.Get().(*jlexer.Lexer)
		*l = jlexer.Lexer{Data: obj}
		p.(easyjson.Unmarshaler).UnmarshalEasyJSON(l)
		l.Consumed()
		err = l.Error()
		*l = jlexer.Lexer{}
		lexerPool.Put(l)
	} else {
		err = json.Unmarshal(obj, p)
	}
	if err != nil {
		return h.namedDecodeError(obj, err)
	}
	return nil
}

func (fc *fastCall) encodePtr(out *jwriter.Writer, r unsafe.Pointer) error {
	if r == nil {
		out.RawString("null")
		return nil
	}
	v := reflect.NewAt(fc.resType.Elem(), r)
	if fc.resEasy {
		return encodeEasy(out, v.Interface().(easyjson.Marshaler), fc.resType)
	}
	return encodeStd(out, v)
}

func (fc *fastCall) encodeWord(out *jwriter.Writer, w uintptr) {
	switch fc.resKind {
	case reflect.Bool:
		out.Bool(w&0xff != 0)
	case reflect.Int8:
		out.Int64(int64(int8(w)))
	case reflect.Int16:
		out.Int64(int64(int16(w)))
	case reflect.Int32:
		out.Int64(int64(int32(w)))
	case reflect.Int, reflect.Int64:
		out.Int64(int64(w))
	case reflect.Uint8:
		out.Uint64(uint64(uint8(w)))
	case reflect.Uint16:
		out.Uint64(uint64(uint16(w)))
	case reflect.Uint32:
		out.Uint64(uint64(uint32(w)))
	default:
		out.Uint64(uint64(w))
	}
}

// isJSONNumber reports whether s is a JSON number literal
// (-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?).
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

type fastError string

func (e fastError) Error() string { return string(e) }

const errInvalidRaw = fastError("json.RawMessage result is not valid JSON")

func errInvalidNumber(s string) error { return fastError("invalid number literal " + s) }
