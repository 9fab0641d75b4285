package wsrpc

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/mailru/easyjson/jlexer"
	"github.com/mailru/easyjson/jwriter"
	"github.com/stretchr/testify/require"
)

func TestWireName(t *testing.T) {
	for goName, want := range map[string]string{
		"Get": "get", "GetData": "get_data", "HTTPStatus": "http_status", "UserID": "user_id",
		"Get2FA": "get2_fa", "A": "a", "ID": "id", "ParseURLQuery": "parse_url_query",
	} {
		require.Equal(t, want, wireName(goName), goName)
	}
}

type okRoute struct {
	Route `wsrpc:"proxy" methods:"Get,GetData=data"`
	dep   string
}

func (r *okRoute) Get(ctx context.Context) string { return r.dep }
func (r *okRoute) GetData() int                   { return 1 }
func (r *okRoute) Hidden() int                    { return 2 }

type noMarker struct{}

func (noMarker) Get() {}

type badShape struct {
	Route `wsrpc:"proxy" methods:"Get"`
}

func (b *badShape) Get() (int, int) { return 0, 0 }

type missingMethod struct {
	Route `wsrpc:"proxy" methods:"Nope"`
}

type listsInit struct {
	Route `wsrpc:"proxy" methods:"Init"`
}

func (l *listsInit) Init() {}

type clash struct {
	Route `wsrpc:"allowed"`
}

func (c *clash) GetID() {}
func (c *clash) GetId() {}

type badMode struct {
	Route `wsrpc:"everything"`
}

type prefixed struct {
	Route `wsrpc:"prefix"`
}

func (p *prefixed) RPCFoo() string { return "foo" }
func (p *prefixed) Bar() string    { return "bar" }

type embedded struct{}

func (embedded) Leak() string { return "leak" }

type allowed struct {
	Route `wsrpc:"allowed,concurrent" noproxy:"Secret"`
	embedded
}

func (a *allowed) Open() string   { return "open" }
func (a *allowed) Secret() string { return "secret" }

func TestAddRules(t *testing.T) {
	tests := []struct {
		name    string
		handler any
		errText string // "" when Add must succeed
	}{
		{"func", func(ctx context.Context, a, b int) int { return a - b }, ""},
		{"struct", &okRoute{}, ""},
		{"no marker", &noMarker{}, "does not embed wsrpc.Route"},
		{"struct value", okRoute{}, "pass a pointer"},
		{"nil", nil, "nil"},
		{"not a handler", 42, "a handler is a func or a pointer to a struct"},
		{"two non-error results", func() (int, int) { return 0, 0 }, "the second result must be error"},
		{"three results", func() (int, int, error) { return 0, 0, nil }, "at most (result, error)"},
		{"variadic", func(a ...int) {}, "variadic"},
		{"ctx not first", func(a int, ctx context.Context) {}, "context.Context must be the first parameter"},
		{"chan param", func(c chan int) {}, "cannot travel as JSON"},
		{"bad method shape", &badShape{}, "method badShape.Get: the second result must be error"},
		{"listed method missing", &missingMethod{}, "methods lists Nope"},
		{"Init listed", &listsInit{}, "Init cannot be listed"},
		{"wire name clash", &clash{}, `two methods are called "get_id"`},
		{"unknown mode", &badMode{}, `unknown mode "everything"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NewRegistry().Add("r", tt.handler)
			if tt.errText == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidRoute)
			require.ErrorContains(t, err, tt.errText)
		})
	}
	require.ErrorContains(t, NewRegistry().Add(" ", func() {}), "empty")
}

func TestLookupAndExposure(t *testing.T) {
	reg := NewRegistry()
	reg.MustAdd("f", func() int { return 1 })
	reg.MustAdd("s.dotted", func() int { return 2 })
	reg.MustAdd("s", &okRoute{dep: "injected"})
	reg.MustAdd("p", &prefixed{})
	reg.MustAdd("a", &allowed{})

	fr, sr, member, ok := reg.lookup("f")
	require.True(t, ok)
	require.NotNil(t, fr)
	require.Nil(t, sr)
	_, _, _, ok = reg.lookup("f.x")
	require.False(t, ok, "function routes are called by their exact name only")
	fr, _, _, ok = reg.lookup("s.dotted")
	require.True(t, ok)
	require.NotNil(t, fr, "an exact dotted function route wins")
	_, sr, member, ok = reg.lookup("s.get_data")
	require.True(t, ok)
	require.Equal(t, "get_data", member)
	_, sr2, member, _ := reg.lookup("s")
	require.Same(t, sr, sr2)
	require.Equal(t, "", member)

	cases := []struct {
		route, member, result, errMsg string
	}{
		{"s", "get", `"injected"`, ""},
		{"s", "data", `1`, ""},
		{"s", "get_data", "", "Method not implemented"},
		{"s", "hidden", "", "Method not implemented"},
		{"s", "init", "", "Method masked"},
		{"s", "", "", "Method not implemented"},
		{"p", "foo", `"foo"`, ""},
		{"p", "bar", "", "Method not implemented"},
		{"p", "rpc_foo", "", "Method not implemented"},
		{"a", "open", `"open"`, ""},
		{"a", "secret", "", "Method masked"},
		{"a", "leak", "", "Method not implemented"},
	}
	for _, c := range cases {
		t.Run(c.route+"."+c.member, func(t *testing.T) {
			_, sr, _, ok := reg.lookup(c.route)
			require.True(t, ok)
			m, e := sr.member(c.member)
			if c.errMsg != "" {
				require.NotNil(t, e)
				require.Equal(t, TypeNotImplemented, e.Type)
				require.Equal(t, c.errMsg, e.Message)
				return
			}
			require.Nil(t, e)
			var w jwriter.Writer
			require.NoError(t, m.call(context.Background(), sr.newInstance(), nil, &w))
			out, _ := w.BuildBytes()
			require.Equal(t, c.result, string(out))
		})
	}
	_, asr, _, _ := reg.lookup("a")
	require.True(t, asr.concurrent)
}

func TestNewInstanceIsAShallowCopy(t *testing.T) {
	proto := &okRoute{dep: "db"}
	reg := NewRegistry()
	reg.MustAdd("s", proto)
	_, sr, _, _ := reg.lookup("s")
	a, b := sr.newInstance(), sr.newInstance()
	require.NotSame(t, a.Interface(), b.Interface())
	require.Equal(t, "db", a.Interface().(*okRoute).dep)
	a.Interface().(*okRoute).dep = "changed"
	require.Equal(t, "db", proto.dep)
	require.Equal(t, "db", b.Interface().(*okRoute).dep)
}

// point has hand-written easyjson code, to prove that path is taken.
type point struct {
	X int `json:"x"`
	Y int `json:"y"`
}

var easyjsonUsed sync.Map

func (p *point) UnmarshalEasyJSON(l *jlexer.Lexer) {
	easyjsonUsed.Store("decode", true)
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

func (p point) MarshalEasyJSON(w *jwriter.Writer) {
	easyjsonUsed.Store("encode", true)
	w.RawByte('[')
	w.Int(p.X)
	w.RawByte(',')
	w.Int(p.Y)
	w.RawByte(']')
}

type namedArgs struct {
	Key     string  `json:"key"`
	Default *string `json:"default"`
	Limit   int     `json:"limit,omitempty"`
}

func callFunc(t *testing.T, fn any, params string) (string, error) {
	t.Helper()
	reg := NewRegistry()
	reg.MustAdd("f", fn)
	fr, _, _, _ := reg.lookup("f")
	var w jwriter.Writer
	var p []byte
	if params != "" {
		p = []byte(params)
	}
	err := fr.m.call(context.Background(), reflect.Value{}, p, &w)
	out, _ := w.BuildBytes()
	return string(out), err
}

func TestParamsAndResults(t *testing.T) {
	named := func(a namedArgs) namedArgs { return a }
	sub := func(a, b int) int { return a - b }
	tests := []struct {
		name    string
		fn      any
		params  string
		want    string
		errType string
		errText string
	}{
		{"named", named, `{"key":"k"}`, `{"key":"k","default":null}`, "", ""},
		{"named unknown key", named, `{"key":"k","zzz":1}`, "", TypeTypeError, "f() got an unexpected keyword argument 'zzz'"},
		{"named missing required", named, `{"limit":1}`, "", TypeTypeError, "f() missing required argument 'key'"},
		{"named absent params", named, ``, "", TypeTypeError, "missing required argument 'key'"},
		{"named array of one object", named, `[{"key":"k"}]`, `{"key":"k","default":null}`, "", ""},
		{"named positional", named, `["k","d"]`, `{"key":"k","default":"d"}`, "", ""},
		{"named wrong type", named, `{"key":5}`, "", TypeTypeError, "f() got a bad argument"},
		{"positional", sub, `[9,4]`, `5`, "", ""},
		{"positional count", sub, `[1,2,3]`, "", TypeTypeError, "f() takes 2 positional arguments but 3 were given"},
		{"positional object", sub, `{"a":1}`, "", TypeTypeError, "takes positional arguments"},
		{"positional fraction", sub, `[1.5,1]`, "", TypeTypeError, "argument 1"},
		{"positional overflow", sub, `[1e300,1]`, "", TypeTypeError, "argument 1"},
		{"scalar", func(n int) int { return -n }, `3`, `-3`, "", ""},
		{"no params", func() string { return "x" }, ``, `"x"`, "", ""},
		{"no params given some", func() string { return "x" }, `[1]`, "", TypeTypeError, "takes no arguments"},
		{"map", func(m map[string]int) int { return m["a"] }, `{"a":7}`, `7`, "", ""},
		{"raw", func(r json.RawMessage) json.RawMessage { return r }, `[1, {"x":2}]`, `[1, {"x":2}]`, "", ""},
		{"bytes base64", func() []byte { return []byte("\x00\x01hello") }, ``, `"AAFoZWxsbw=="`, "", ""},
		{"nan", func() float64 { return math.NaN() }, ``, "", TypeValueError, "Can not serialize <type float64>"},
		{"chan in any", func() any { return make(chan int) }, ``, "", TypeValueError, "Can not serialize <type chan int>"},
		{"nil result", func() *namedArgs { return nil }, ``, `null`, "", ""},
		{"error only", func() error { return nil }, ``, `null`, "", ""},
		{"user error", func() (int, error) { return 0, NewError("KeyError", "k") }, ``, "", "KeyError", "k"},
		{"easyjson", func(p point) point { return point{p.Y, p.X} }, `{"x":1,"y":2}`, `[2,1]`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := callFunc(t, tt.fn, tt.params)
			if tt.errType == "" {
				require.NoError(t, err)
				require.JSONEq(t, tt.want, out)
				return
			}
			var e *Error
			require.True(t, errors.As(err, &e), "want an *Error, got %v", err)
			require.Equal(t, tt.errType, e.Type)
			require.Contains(t, e.Message, tt.errText)
		})
	}
	_, dec := easyjsonUsed.Load("decode")
	_, enc := easyjsonUsed.Load("encode")
	require.True(t, dec && enc, "easyjson code must be used when a type has it")
}

func TestPing(t *testing.T) {
	reg := NewRegistry()
	fr, _, _, ok := reg.lookup("ping")
	require.True(t, ok)
	for params, want := range map[string]string{``: `{}`, `null`: `{}`, `{"seq":1.5}`: `{"seq":1.5}`} {
		var w jwriter.Writer
		var p []byte
		if params != "" {
			p = []byte(params)
		}
		require.NoError(t, fr.m.call(context.Background(), reflect.Value{}, p, &w))
		out, _ := w.BuildBytes()
		require.Equal(t, want, string(out))
	}
	var w jwriter.Writer
	err := fr.m.call(context.Background(), reflect.Value{}, []byte(`[1,2]`), &w)
	require.ErrorIs(t, err, &Error{Type: TypeTypeError})
}

func TestRegistryConcurrentAddAndLookup(t *testing.T) {
	reg := NewRegistry()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				reg.lookup("r")
				reg.Names()
			}
		}
	}()
	for i := 0; i < 200; i++ {
		require.NoError(t, reg.Add("r", func() int { return i }))
		if i%2 == 0 {
			require.NoError(t, reg.Remove("r"))
		}
	}
	close(stop)
	wg.Wait()
	require.ErrorIs(t, NewRegistry().Remove("nope"), ErrRouteNotFound)
	require.Equal(t, []string{"ping", "r"}, reg.Names())
	_ = time.Second
}
