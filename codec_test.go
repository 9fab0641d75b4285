package wsrpc

import (
	"context"
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailru/easyjson"
	"github.com/mailru/easyjson/jlexer"
	"github.com/mailru/easyjson/jwriter"
	"github.com/stretchr/testify/require"
)

type getParams struct {
	Key      string          `json:"key"`
	Default  json.RawMessage `json:"default,omitempty"`
	Limit    int             `json:"limit,omitzero"`
	Page     *int            `json:"page"`
	Tag      string          `json:"tag" wsrpc:"optional"`
	Plain    bool            // no tag: the Go name, case-sensitively
	Skipped  int             `json:"-"`
	internal int
}

type pagination struct {
	Cursor string `json:"cursor,omitempty"`
}

type embeddedParams struct {
	pagination
	Key string `json:"key"`
}

type storage struct {
	Route `wsrpc:"proxy" methods:"Get,GetPtr,Page"`
}

func (s *storage) Get(ctx context.Context, p getParams) getParams { return p }
func (s *storage) GetPtr(p *getParams) *getParams                 { return p }
func (s *storage) Page(p embeddedParams) embeddedParams           { return p }

func structMethod(t testing.TB, handler any, member string) (*method, reflect.Value) {
	t.Helper()
	r := NewRegistry()
	require.NoError(t, r.Add("s", handler))
	_, sr, _, ok := r.lookup("s")
	require.True(t, ok)
	m, e := sr.member(member)
	require.Nil(t, e)
	return m, sr.newInstance()
}

func TestCodecNamedParams(t *testing.T) {
	get, inst := structMethod(t, &storage{}, "get")
	getPtr, _ := structMethod(t, &storage{}, "get_ptr")
	page, _ := structMethod(t, &storage{}, "page")
	tests := []struct {
		m      *method
		params string
		result string // JSON, "" when an error is expected
		errMsg string
	}{
		{get, `{"key":"k","Plain":true}`, `{"key":"k","page":null,"tag":"","Plain":true}`, ""},
		{get, `{"key":"k","Plain":false,"default":{"d":[1]},"limit":3,"page":2,"tag":"t"}`,
			`{"key":"k","default":{"d":[1]},"limit":3,"page":2,"tag":"t","Plain":false}`, ""},
		{get, `{"key":"k","Plain":true,"zzz":1}`, "", "s.get() got an unexpected keyword argument 'zzz'"},
		{get, `{"KEY":"k","Plain":true}`, "", "s.get() got an unexpected keyword argument 'KEY'"},
		{get, `{"key":"k","plain":true}`, "", "s.get() got an unexpected keyword argument 'plain'"},
		{get, `{"key":"k","Plain":true,"Skipped":1}`, "", "unexpected keyword argument 'Skipped'"},
		{get, `{"key":"k","Plain":true,"internal":1}`, "", "unexpected keyword argument 'internal'"},
		{get, `{"Plain":true}`, "", "s.get() missing required argument 'key'"},
		{get, `{"key":"k"}`, "", "s.get() missing required argument 'Plain'"},
		{get, `{"key":null,"Plain":true}`, `{"key":"","page":null,"tag":"","Plain":true}`, ""}, // null counts as given
		{get, ``, "", "s.get() missing required argument 'key'"},
		{get, `null`, "", "s.get() missing required argument 'key'"},
		{get, `{}`, "", "s.get() missing required argument 'key'"},
		// Named params only: arrays (even of one object) and scalars are a
		// TypeError naming the rule; an empty array is no params.
		{get, `[{"key":"k","Plain":true}]`, "", "s.get() takes keyword arguments only: params must be a JSON object, not an array"},
		{get, `["k",null,1,2,"t",true]`, "", "s.get() takes keyword arguments only: params must be a JSON object, not an array"},
		{get, `"k"`, "", "s.get() takes keyword arguments only: params must be a JSON object, not a string"},
		{get, `7`, "", "s.get() takes keyword arguments only: params must be a JSON object, not a number"},
		{get, ` [ ] `, "", "s.get() missing required argument 'key'"},
		// Wrong types name the field.
		{get, `{"key":1,"Plain":true}`, "", "s.get() argument 'key': cannot use JSON number as string"},
		{get, `{"key":"k","Plain":true,"limit":1.5}`, "", "s.get() argument 'limit': cannot use JSON number 1.5 as int"},
		{get, `{"key":"k","Plain":true,"limit":1e300}`, "", "s.get() argument 'limit': cannot use JSON number 1e300 as int"},
		{get, `{"key":"k","Plain":true,"page":"2"}`, "", "s.get() argument 'page': cannot use JSON string as int"},
		// A pointer to the struct.
		{getPtr, `{"key":"k","Plain":true}`, `{"key":"k","page":null,"tag":"","Plain":true}`, ""},
		{getPtr, `{"key":"k"}`, "", "s.get_ptr() missing required argument 'Plain'"},
		// Fields of embedded structs are promoted.
		{page, `{"key":"k","cursor":"c"}`, `{"cursor":"c","key":"k"}`, ""},
		{page, `{"key":"k"}`, `{"key":"k"}`, ""},
		{page, `["c","k"]`, "", "s.page() takes keyword arguments only"},
		{page, `[]`, "", "s.page() missing required argument 'key'"},
		{page, `{"pagination":{}}`, "", "unexpected keyword argument 'pagination'"},
	}
	for _, tt := range tests {
		t.Run(tt.m.name+" "+tt.params, func(t *testing.T) {
			out, err := call(t, tt.m, inst, tt.params)
			if tt.result != "" {
				require.NoError(t, err)
				require.JSONEq(t, tt.result, out)
				return
			}
			requireWireError(t, err, TypeTypeError, tt.errMsg)
		})
	}
}

func TestCodecNamedParamsNames(t *testing.T) {
	// Keywords the Python reference must pass through untouched.
	m := funcMethod(t, "names", func(p struct {
		Method string `json:"method"`
		Serial int    `json:"serial"`
		Self   string `json:"self"`
	}) any {
		return p
	})
	out, err := call(t, m, reflect.Value{}, `{"method":"m","serial":2,"self":"s"}`)
	require.NoError(t, err)
	require.JSONEq(t, `{"method":"m","serial":2,"self":"s"}`, out)
}

func TestCodecManyFields(t *testing.T) {
	// More than 256 fields: the seen-set no longer fits on the stack.
	fields := make([]reflect.StructField, 300)
	for i := range fields {
		fields[i] = reflect.StructField{
			Name: "F" + strconv.Itoa(i),
			Type: reflect.TypeFor[int](),
			Tag:  reflect.StructTag(`json:"f` + strconv.Itoa(i) + `"`),
		}
	}
	st := reflect.StructOf(fields)
	fn := reflect.MakeFunc(reflect.FuncOf([]reflect.Type{st}, []reflect.Type{reflect.TypeFor[int]()}, false),
		func(args []reflect.Value) []reflect.Value {
			return []reflect.Value{reflect.ValueOf(int(args[0].Field(299).Int()))}
		})
	m := funcMethod(t, "many", fn.Interface())
	object := func(skip int) string {
		parts := []string{}
		for i := range fields {
			if i != skip {
				parts = append(parts, `"f`+strconv.Itoa(i)+`":`+strconv.Itoa(i))
			}
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	out, err := call(t, m, reflect.Value{}, object(-1))
	require.NoError(t, err)
	require.Equal(t, "299", out)
	_, err = call(t, m, reflect.Value{}, object(290))
	requireWireError(t, err, TypeTypeError, "many() missing required argument 'f290'")
}

// easyPoint has hand-written easyjson code. The unexported via field can
// only be set by that code, which proves the easyjson path was taken.
type easyPoint struct {
	X   int `json:"x"`
	Y   int `json:"y,omitempty"`
	via string
}

func (p *easyPoint) UnmarshalEasyJSON(l *jlexer.Lexer) {
	p.via = "easyjson"
	l.Delim('{')
	for !l.IsDelim('}') {
		key := l.UnsafeFieldName(false)
		l.WantColon()
		switch key {
		case "x":
			p.X = l.Int()
		case "y":
			p.Y = l.Int()
		default:
			l.SkipRecursive()
		}
		l.WantComma()
	}
	l.Delim('}')
}

func (p easyPoint) MarshalEasyJSON(w *jwriter.Writer) {
	w.RawString(`{"x":`)
	w.Int(p.X)
	w.RawString(`,"y":`)
	w.Int(p.Y)
	w.RawString(`,"via":"easyjson-out"}`)
}

// easyPtrOut implements easyjson.Marshaler on the pointer only.
type easyPtrOut struct{ N int }

func (p *easyPtrOut) MarshalEasyJSON(w *jwriter.Writer) {
	w.RawString(`{"ptr":`)
	w.Int(p.N)
	w.RawByte('}')
}

// easyInt is a scalar decoded by easyjson code.
type easyInt int

func (n *easyInt) UnmarshalEasyJSON(l *jlexer.Lexer) { *n = easyInt(l.Int()) + 1000 }

// easyNaN writes NaN with easyjson, which jwriter refuses.
type easyNaN struct{}

func (easyNaN) MarshalEasyJSON(w *jwriter.Writer) { w.Float64(math.NaN()) }

// easyKeep keeps an easyjson.RawMessage field, which aliases its input.
type easyKeep struct {
	V easyjson.RawMessage `json:"v"`
}

func (k *easyKeep) UnmarshalEasyJSON(l *jlexer.Lexer) {
	l.Delim('{')
	for !l.IsDelim('}') {
		key := l.UnsafeFieldName(false)
		l.WantColon()
		if key == "v" {
			k.V.UnmarshalEasyJSON(l)
		} else {
			l.SkipRecursive()
		}
		l.WantComma()
	}
	l.Delim('}')
}

func TestCodecEasyjson(t *testing.T) {
	var got easyPoint
	named := funcMethod(t, "move", func(p easyPoint) easyPoint {
		got = p
		p.X++
		return p
	})
	out, err := call(t, named, reflect.Value{}, `{"x":1,"y":2}`)
	require.NoError(t, err)
	require.Equal(t, "easyjson", got.via)
	require.Equal(t, `{"x":2,"y":2,"via":"easyjson-out"}`, out)

	// The key check still applies to easyjson structs.
	_, err = call(t, named, reflect.Value{}, `{"x":1,"z":2}`)
	requireWireError(t, err, TypeTypeError, "move() got an unexpected keyword argument 'z'")
	_, err = call(t, named, reflect.Value{}, `{"y":1}`)
	requireWireError(t, err, TypeTypeError, "move() missing required argument 'x'")
	// Numbers that do not fit are errors on the easyjson path too, naming the key.
	_, err = call(t, named, reflect.Value{}, `{"x":1,"y":1.5}`)
	requireWireError(t, err, TypeTypeError, "move() argument 'y': ")
	_, err = call(t, named, reflect.Value{}, `{"x":1e300}`)
	requireWireError(t, err, TypeTypeError, "move() argument 'x': ")
	_, err = call(t, named, reflect.Value{}, `{"x":"1"}`)
	requireWireError(t, err, TypeTypeError, "move() argument 'x': expected number")

	// A positional easyjson scalar.
	pos := funcMethod(t, "inc", func(a easyInt, b int) int { return int(a) + b })
	out, err = call(t, pos, reflect.Value{}, `[1,2]`)
	require.NoError(t, err)
	require.Equal(t, "1003", out)
	_, err = call(t, pos, reflect.Value{}, `[1.5,2]`)
	requireWireError(t, err, TypeTypeError, "inc() argument 1: ")
	_, err = call(t, pos, reflect.Value{}, `[99999999999999999999,2]`)
	requireWireError(t, err, TypeTypeError, "inc() argument 1: ")

	// Results: pointer-receiver easyjson code is used for values too.
	out, err = call(t, funcMethod(t, "p", func() easyPtrOut { return easyPtrOut{N: 4} }), reflect.Value{}, "")
	require.NoError(t, err)
	require.Equal(t, `{"ptr":4}`, out)
	out, err = call(t, funcMethod(t, "p", func() *easyPtrOut { return &easyPtrOut{N: 5} }), reflect.Value{}, "")
	require.NoError(t, err)
	require.Equal(t, `{"ptr":5}`, out)
	out, err = call(t, funcMethod(t, "p", func() *easyPtrOut { return nil }), reflect.Value{}, "")
	require.NoError(t, err)
	require.Equal(t, `null`, out)
	out, err = call(t, funcMethod(t, "p", func() any { return easyPoint{X: 7} }), reflect.Value{}, "")
	require.NoError(t, err)
	require.Equal(t, `{"x":7,"y":0,"via":"easyjson-out"}`, out)
	_, err = call(t, funcMethod(t, "p", func() easyNaN { return easyNaN{} }), reflect.Value{}, "")
	requireWireError(t, err, TypeValueError, "Can not serialize <type wsrpc.easyNaN>: ")

	// easyjson code may alias its input: the params are copied first.
	var kept easyKeep
	keep := funcMethod(t, "keep", func(k easyKeep) { kept = k })
	buf := []byte(`{"v":[1,2]}`)
	var w jwriter.Writer
	require.NoError(t, keep.call(context.Background(), recvOf(reflect.Value{}), buf, &w))
	copy(buf, strings.Repeat("X", len(buf)))
	require.Equal(t, `[1,2]`, string(kept.V))
}

func TestCodecResults(t *testing.T) {
	tests := []struct {
		name   string
		fn     any
		result string
		errMsg string // ValueError message prefix
	}{
		{"bytes are padded base64", func() []byte { return []byte("\x00\x01hello") }, `"AAFoZWxsbw=="`, ""},
		{"NaN", func() float64 { return math.NaN() }, "", "Can not serialize <type float64>: unsupported value: NaN"},
		{"Inf", func() (float64, error) { return math.Inf(1), nil }, "", "Can not serialize <type float64>: unsupported value: +Inf"},
		{"NaN inside", func() map[string]float64 { return map[string]float64{"a": math.NaN()} }, "", "Can not serialize <type map[string]float64>: "},
		{"chan in any", func() any { return make(chan int) }, "", "Can not serialize <type chan int>: unsupported type: chan int"},
		{"func in a struct", func() any { return struct{ F func() }{func() {}} }, "", "Can not serialize <type struct { F func() }>: "},
		{"time", func() time.Time { return time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC) }, `"2020-01-02T03:04:05Z"`, ""},
		{"string", func() string { return "<a&b>" }, `"\u003ca\u0026b\u003e"`, ""},
		{"big int", func() uint64 { return math.MaxUint64 }, "18446744073709551615", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := call(t, funcMethod(t, "r", tt.fn), reflect.Value{}, "")
			if tt.errMsg != "" {
				requireWireError(t, err, TypeValueError, tt.errMsg)
				require.True(t, strings.HasPrefix(err.(*Error).Message, "Can not serialize <type "))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.result, out)
		})
	}
}

func TestCodecSelfDecodingStructIsPositional(t *testing.T) {
	// time.Time is a struct, but it decodes itself: one positional value.
	m := funcMethod(t, "year", func(ts time.Time) int { return ts.Year() })
	out, err := call(t, m, reflect.Value{}, `"2021-05-06T00:00:00Z"`)
	require.NoError(t, err)
	require.Equal(t, "2021", out)
	_, err = call(t, m, reflect.Value{}, `{"a":1}`)
	requireWireError(t, err, TypeTypeError, "year() takes positional arguments")
}

// The engine appends the result after what it already wrote.
func TestCodecAppendsToTheWriter(t *testing.T) {
	m := funcMethod(t, "f", func(p struct {
		N int `json:"n"`
	}) []int {
		return []int{p.N, p.N}
	})
	var w jwriter.Writer
	w.RawString(`{"id":1,"result":`)
	require.NoError(t, m.call(context.Background(), recvOf(reflect.Value{}), []byte(`{"n":2}`), &w))
	w.RawByte('}')
	out, _ := w.BuildBytes()
	require.Equal(t, `{"id":1,"result":[2,2]}`, string(out))
}

func fuzzMethods(t testing.TB) ([]*method, reflect.Value) {
	methods := []*method{
		funcMethod(t, "positional", func(a, b int) int { return a - b }),
		funcMethod(t, "scalar", func(ctx context.Context, s string) string { return s }),
		funcMethod(t, "none", func() {}),
		funcMethod(t, "map", func(m map[string]any) int { return len(m) }),
		funcMethod(t, "raw", func(r json.RawMessage) json.RawMessage { return r }),
		funcMethod(t, "easy", func(p easyPoint) easyPoint { return p }),
		funcMethod(t, "anyv", func(v any) any { return v }),
		funcMethod(t, "floats", func(v []float64) []float64 { return v }),
		pingRoute.m,
	}
	m, inst := structMethod(t, &storage{}, "get")
	m2, _ := structMethod(t, &storage{}, "page")
	return append(methods, m, m2), inst
}

// FuzzCodecParams decodes arbitrary params for every handler shape: the result is
// valid JSON or the error is a TypeError; nothing panics.
func FuzzCodecParams(f *testing.F) {
	for _, seed := range []string{``, `null`, `{}`, `[]`, `{"key":"k","Plain":true}`, `[1,2]`, `"s"`,
		`[{"x":1}]`, `{"x":1e400}`, `[[],{},1]`, `{"a":`, `[1,]`, `{"k":"\u00e9\"}"}`, ` 7 `, `{"x":1,"x":2}`} {
		f.Add([]byte(seed))
	}
	methods, inst := fuzzMethods(f)
	f.Fuzz(func(t *testing.T, params []byte) {
		valid := len(params) == 0 || json.Valid(params)
		for _, m := range methods {
			var w jwriter.Writer
			err := m.call(context.Background(), recvOf(inst), params, &w)
			if err != nil {
				e, ok := err.(*Error)
				if !ok || e.Message == "" || valid && e.Type != TypeTypeError {
					t.Fatalf("%s(%q): want a TypeError, got %T %v", m.name, params, err, err)
				}
				continue
			}
			out, werr := w.BuildBytes()
			if werr != nil {
				t.Fatalf("%s(%q): writer error %v", m.name, params, werr)
			}
			// The engine only passes params of a valid message.
			if valid && !json.Valid(out) {
				t.Fatalf("%s(%q) wrote invalid JSON %q", m.name, params, out)
			}
		}
	})
}

func BenchmarkCodecNamedCall(b *testing.B) {
	m, inst := structMethod(b, &storage{}, "get")
	params := []byte(`{"key":"some key","Plain":true,"limit":10}`)
	var w jwriter.Writer
	b.ReportAllocs()
	for b.Loop() {
		w.Buffer.Buf = w.Buffer.Buf[:0]
		if err := m.call(context.Background(), recvOf(inst), params, &w); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCodecPositionalCall(b *testing.B) {
	m := funcMethod(b, "subtract", func(a, b int) int { return a - b })
	params := []byte(`[42,23]`)
	var w jwriter.Writer
	b.ReportAllocs()
	for b.Loop() {
		w.Buffer.Buf = w.Buffer.Buf[:0]
		if err := m.call(context.Background(), recvOf(reflect.Value{}), params, &w); err != nil {
			b.Fatal(err)
		}
	}
}

type numberParams struct {
	A json.Number  `json:"a"`
	B *json.Number `json:"b,omitempty"`
}

// A declared json.Number takes a JSON number (or null), never a string
// holding one, on every call path: named params by value (reflect), by
// pointer (the fast path) and positional params.
func TestCodecNumbersAreNotStrings(t *testing.T) {
	byValue := funcMethod(t, "by_value", func(p numberParams) json.Number { return p.A })
	byPtr := funcMethod(t, "by_ptr", func(ctx context.Context, p *numberParams) (json.Number, error) { return p.A, nil })
	positional := funcMethod(t, "positional", func(a, b json.Number) json.Number { return a })
	tests := []struct {
		m              *method
		params, result string
		errMsg         string
	}{
		{byValue, `{"a":1}`, `1`, ""},
		{byValue, `{"a":-2.5e3,"b":4}`, `-2.5e3`, ""},
		{byValue, `{"a":null}`, `0`, ""},
		{byValue, `{"a":"1"}`, "", "by_value() argument 'a' must be a number, not a string"},
		{byValue, `{"a":1,"b":"9"}`, "", "by_value() argument 'b' must be a number, not a string"},
		{byValue, `{"a":true}`, "", "by_value() argument 'a' must be a number, not a boolean"},
		{byPtr, `{"a":7}`, `7`, ""},
		{byPtr, `{"a":"7"}`, "", "by_ptr() argument 'a' must be a number, not a string"},
		{byPtr, `{"a":[7]}`, "", "by_ptr() argument 'a' must be a number, not an array"},
		{positional, `[1,9]`, `1`, ""},
		{positional, `["1",9]`, "", "positional() argument 1 must be a number, not a string"},
		{positional, `[1,{}]`, "", "positional() argument 2 must be a number, not an object"},
	}
	for _, tt := range tests {
		t.Run(tt.m.name+" "+tt.params, func(t *testing.T) {
			out, err := call(t, tt.m, reflect.Value{}, tt.params)
			if tt.errMsg != "" {
				requireWireError(t, err, TypeTypeError, tt.errMsg)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.result, out)
		})
	}
}
