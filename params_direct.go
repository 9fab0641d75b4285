// This file owns the one-pass decoding of named params: the keys are
// checked and the values decoded straight into the struct's fields in a
// single walk of the object, where checkKeys and the struct's easyjson code
// would walk it twice. It covers the structs whose fields are all of the
// kinds easyjson decodes with one jlexer call; any problem sends the call
// back to the two-pass path, which words the TypeError, so the errors and
// their order stay what they were.

package wsrpc

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"unsafe"

	"github.com/mailru/easyjson"
	"github.com/mailru/easyjson/jlexer"
)

// directField says how decodeDirect writes one field.
type directField struct {
	offset uintptr      // from the start of the struct
	kind   reflect.Kind // of the field; String with number set is json.Number
	number bool         // json.Number
	raw    bool         // json.RawMessage
	size   uintptr      // of the field
}

var typeRawMessage = reflect.TypeFor[json.RawMessage]()

// planDirect fills the directField of each field of the params struct t and
// reports whether decodeDirect may decode t: t has easyjson code (the codec
// decodeDirect stands in for) and no unexported fields, every field is a
// bool, number, string, json.Number or json.RawMessage without a ",string"
// option, reached through embedded structs that are not pointers, and t's
// own UnmarshalEasyJSON decodes a probe object with a value in every field
// to what decodeDirect decodes (so a hand-written decoder that does more
// than generated code keeps being called).
func planDirect(t reflect.Type, np *namedParams) bool {
	if !np.vt.easy || np.words > 4 || hasUnexported(t) {
		return false
	}
	for i := range np.fields {
		f := &np.fields[i]
		st := t
		var off uintptr
		for k, x := range f.index {
			sf := st.Field(x)
			off += sf.Offset
			if k < len(f.index)-1 {
				if sf.Type.Kind() != reflect.Struct {
					return false
				}
				st = sf.Type
				continue
			}
			if _, opts, _ := strings.Cut(sf.Tag.Get("json"), ","); hasOption(opts, "string") {
				return false
			}
		}
		ft := f.vt.typ
		d := directField{offset: off, kind: ft.Kind(), size: ft.Size()}
		switch {
		case ft == typeJSONNumber:
			d.number = true
		case ft == typeRawMessage:
			d.raw = true
		case reflect.PointerTo(ft).Implements(typeEasyUnmarshaler), reflect.PointerTo(ft).Implements(typeJSONUnmarshaler),
			reflect.PointerTo(ft).Implements(typeTextUnmarshaler):
			return false
		case d.kind == reflect.String, d.kind == reflect.Bool, isWordKind(d.kind) && d.kind != reflect.Uintptr,
			d.kind == reflect.Float32, d.kind == reflect.Float64:
		default:
			return false
		}
		f.direct = d
	}
	return probeDirect(t, np)
}

func hasUnexported(t reflect.Type) bool {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() && !(f.Anonymous && f.Type.Kind() == reflect.Struct) {
			return true
		}
		if f.Anonymous && f.Type.Kind() == reflect.Struct && hasUnexported(f.Type) {
			return true
		}
	}
	return false
}

// probeDirect decodes an object with a distinct value for every field with
// t's UnmarshalEasyJSON and with decodeDirect, and reports whether both give
// the same value.
func probeDirect(t reflect.Type, np *namedParams) bool {
	obj := []byte{'{'}
	for i, f := range np.fields {
		if i > 0 {
			obj = append(obj, ',')
		}
		obj = strconv.AppendQuote(obj, f.name)
		obj = append(obj, ':')
		n := strconv.Itoa(i%100 + 1)
		switch {
		case f.direct.raw:
			obj = append(obj, "[\""+n+"\"]"...)
		case f.direct.kind == reflect.String && !f.direct.number:
			obj = append(obj, "\"s"+n+"\""...)
		case f.direct.kind == reflect.Bool:
			obj = append(obj, "true"...)
		default:
			obj = append(obj, n...)
		}
	}
	obj = append(obj, '}')
	want := reflect.New(t)
	l := jlexer.Lexer{Data: obj}
	want.Interface().(easyjson.Unmarshaler).UnmarshalEasyJSON(&l)
	l.Consumed()
	got := reflect.New(t)
	return l.Error() == nil && np.decodeDirect(obj, got.UnsafePointer()) && reflect.DeepEqual(want.Interface(), got.Interface())
}

// decodeDirect decodes the params object obj into the struct at p in one
// pass. obj must be valid JSON (the frame scan checked it, as strictly as
// encoding/json.Valid), so values are only delimited here, not checked
// again. It reports false for anything the two-pass path must word (an
// unknown key, a value of the wrong type, a missing required field); p may
// then be partly written and must be zeroed.
func (np *namedParams) decodeDirect(obj []byte, p unsafe.Pointer) bool {
	var d directDecode
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return false
	}
	if i = skipSpace(obj, i+1); i < len(obj) && obj[i] == '}' {
		i++
	} else {
		for {
			key, start, err := scanKey(obj, i)
			if err != nil {
				return false
			}
			end, escaped := validValueEnd(obj, start)
			if end < 0 || !np.decodeMember(&d, key, obj[start:end], escaped, p) {
				return false
			}
			if i = end; i < len(obj) && isJSONSpace(obj[i]) {
				i = skipSpace(obj, i)
			}
			if i >= len(obj) {
				return false
			}
			if obj[i] == '}' {
				i++
				break
			}
			if obj[i] != ',' {
				return false
			}
			i = skipSpace(obj, i+1)
		}
	}
	return skipSpace(obj, i) == len(obj) && np.haveRequired(&d)
}

// decodeMembers is decodeDirect of the object obj whose members the frame
// scan recorded in ms (ms.ok): it does not walk obj again.
func (np *namedParams) decodeMembers(obj []byte, ms *members, p unsafe.Pointer) bool {
	var d directDecode
	for x := range int(ms.n) {
		m := &ms.m[x]
		var key string
		if ms.keyEsc&(1<<x) == 0 {
			key = unsafe.String(&obj[m.key+1], m.keyEnd-m.key-2)
		} else {
			var err error
			if key, err = unquote(obj[m.key:m.keyEnd]); err != nil {
				return false
			}
		}
		if !np.decodeMember(&d, key, obj[m.val:m.valEnd], ms.valEsc&(1<<x) != 0, p) {
			return false
		}
	}
	return np.haveRequired(&d)
}

// directDecode is the state of one decodeDirect: the fields seen, and the
// one the next key most likely names.
type directDecode struct {
	seen [4]uint64
	next int
}

// decodeMember decodes the member key: v (valid JSON; escaped says that a
// string holds an escape) into its field of the struct at p.
func (np *namedParams) decodeMember(d *directDecode, key string, v []byte, escaped bool, p unsafe.Pointer) bool {
	k, ok := np.field(key, d.next)
	if !ok {
		return false
	}
	d.next = k + 1
	d.seen[k/64] |= 1 << (k % 64)
	// A null leaves the field as it is, as easyjson code does.
	return string(v) == "null" || np.fields[k].direct.decode(v, escaped, unsafe.Add(p, np.fields[k].direct.offset))
}

// haveRequired reports whether every required field was seen.
func (np *namedParams) haveRequired(d *directDecode) bool {
	for _, k := range np.required {
		if d.seen[k/64]&(1<<(k%64)) == 0 {
			return false
		}
	}
	return true
}

// field returns the index of the field of JSON key key; hint is the field
// to try first (keys mostly come in the order of the fields). A few fields
// are compared in turn, which beats hashing the key; many are looked up.
func (np *namedParams) field(key string, hint int) (int, bool) {
	f := np.fields
	if hint < len(f) && f[hint].name == key {
		return hint, true
	}
	if len(f) > 8 {
		k, ok := np.byKey[key]
		return k, ok
	}
	for k := range f {
		if f[k].name == key {
			return k, true
		}
	}
	return 0, false
}

// zeroDirect zeroes the fields of the struct at p that decodeDirect
// writes, which are all of them (planDirect): what reflect's SetZero does,
// without its cost per call.
func (np *namedParams) zeroDirect(p unsafe.Pointer) {
	for i := range np.fields {
		d := &np.fields[i].direct
		f := unsafe.Add(p, d.offset)
		switch {
		case d.raw:
			*(*json.RawMessage)(f) = nil
		case d.kind == reflect.String:
			*(*string)(f) = ""
		case d.kind == reflect.Bool, d.kind == reflect.Int8, d.kind == reflect.Uint8:
			*(*uint8)(f) = 0
		case d.kind == reflect.Int16, d.kind == reflect.Uint16:
			*(*uint16)(f) = 0
		case d.kind == reflect.Int32, d.kind == reflect.Uint32, d.kind == reflect.Float32:
			*(*uint32)(f) = 0
		default: // the 64-bit kinds (int and uint on this platform or not)
			if d.size == 4 {
				*(*uint32)(f) = 0
			} else {
				*(*uint64)(f) = 0
			}
		}
	}
}

// validValueEnd returns the index after the value at d[i] of valid JSON d,
// and for a string whether it holds an escape: a scalar ends at the first
// byte that cannot continue it, a container where skipValue says.
func validValueEnd(d []byte, i int) (end int, escaped bool) {
	if i >= len(d) {
		return -1, false
	}
	switch d[i] {
	case '"':
		return stringEnd(d, i)
	case '{', '[':
		return skipValue(d, i), false
	case 't', 'n':
		return min(i+4, len(d)), false
	case 'f':
		return min(i+5, len(d)), false
	}
	j := i + 1
	for j < len(d) && (isDigit(d[j]) || d[j] == '.' || d[j] == 'e' || d[j] == 'E' || d[j] == '+' || d[j] == '-') {
		j++
	}
	return j, false
}

// decode writes the JSON value v (valid, not null) to the field at p with
// the jlexer call easyjson code makes for its kind; escaped says whether a
// string value holds an escape (a plain one is its bytes, as jlexer takes
// it).
func (d *directField) decode(v []byte, escaped bool, p unsafe.Pointer) bool {
	if d.raw {
		*(*json.RawMessage)(p) = append(json.RawMessage(nil), v...)
		return true
	}
	if d.kind == reflect.String {
		switch {
		case d.number:
			// A number token is the json.Number jlexer makes of it; a
			// string is refused (the two-pass path words it).
			if v[0] != '-' && !isDigit(v[0]) {
				return false
			}
			*(*json.Number)(p) = json.Number(v)
			return true
		case v[0] == '"' && !escaped:
			*(*string)(p) = string(v[1 : len(v)-1])
			return true
		}
	}
	l := jlexer.Lexer{Data: v}
	switch d.kind {
	case reflect.String:
		*(*string)(p) = l.String()
	case reflect.Bool:
		*(*bool)(p) = l.Bool()
	case reflect.Int:
		*(*int)(p) = l.Int()
	case reflect.Int8:
		*(*int8)(p) = l.Int8()
	case reflect.Int16:
		*(*int16)(p) = l.Int16()
	case reflect.Int32:
		*(*int32)(p) = l.Int32()
	case reflect.Int64:
		*(*int64)(p) = l.Int64()
	case reflect.Uint:
		*(*uint)(p) = l.Uint()
	case reflect.Uint8:
		*(*uint8)(p) = l.Uint8()
	case reflect.Uint16:
		*(*uint16)(p) = l.Uint16()
	case reflect.Uint32:
		*(*uint32)(p) = l.Uint32()
	case reflect.Uint64:
		*(*uint64)(p) = l.Uint64()
	case reflect.Float32:
		*(*float32)(p) = l.Float32()
	case reflect.Float64:
		*(*float64)(p) = l.Float64()
	default:
		return false
	}
	l.Consumed()
	return l.Ok()
}
