package wsrpc

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"testing"

	"github.com/mailru/easyjson/jwriter"
	"github.com/stretchr/testify/require"
)

// call runs m with params ("" for absent) and returns the JSON it wrote.
func call(t testing.TB, m *method, recv reflect.Value, params string) (string, error) {
	t.Helper()
	var raw []byte
	if params != "" {
		raw = []byte(params)
	}
	var w jwriter.Writer
	if err := m.call(context.Background(), recvOf(recv), raw, &w); err != nil {
		return "", err
	}
	out, err := w.BuildBytes()
	require.NoError(t, err)
	return string(out), nil
}

// funcMethod registers fn as a function route and returns its method.
func funcMethod(t testing.TB, name string, fn any) *method {
	t.Helper()
	r := &Registry{}
	require.NoError(t, r.Add(name, fn))
	fr, sr, member, ok := r.lookup(name)
	require.True(t, ok)
	require.Nil(t, sr)
	require.Empty(t, member)
	return fr.m
}

// requireWireError checks that err is an *Error of the given type whose
// message contains msg.
func requireWireError(t testing.TB, err error, typ, msg string) {
	t.Helper()
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, typ, e.Type, e.Message)
	require.Contains(t, e.Message, msg)
}

func TestRegistryAddFuncErrors(t *testing.T) {
	tests := []struct {
		name    string
		handler any
		want    string // the whole message after the route name
	}{
		{"two results, second not error", func() (int, int) { return 0, 0 }, "func r: the second result must be error"},
		{"error twice", func() (error, error) { return nil, nil }, "func r: the first of two results must not be error"},
		{"three results", func() (int, int, error) { return 0, 0, nil }, "func r: 3 results: a handler returns nothing, error, a result, or (result, error)"},
		{"variadic", func(a ...int) {}, "func r: variadic functions are not supported"},
		{"ctx not first", func(a int, ctx context.Context) {}, "func r: context.Context must be the first parameter"},
		{"chan param", func(c chan int) {}, "func r: parameter 1: type chan int cannot be decoded from JSON"},
		{"func param", func(a int, f func()) {}, "func r: parameter 2: type func() cannot be decoded from JSON"},
		{"complex param", func(c complex128) {}, "func r: parameter 1: type complex128 cannot be decoded from JSON"},
		{"interface param", func(ctx context.Context, s fmt.Stringer) {}, "func r: parameter 2: interface type fmt.Stringer cannot be decoded from JSON (use a concrete type or any)"},
		{"chan result", func() chan int { return nil }, "func r: result: type chan int cannot be encoded as JSON"},
		{"chan field in params struct", func(p struct{ C chan int }) {}, "func r: field C of the params struct struct { C chan int }: type chan int cannot be decoded from JSON"},
		{"nil func", (func())(nil), "the handler is a nil func()"},
		{"nil", nil, "the handler is nil"},
		{"not a handler", 42, "a handler is a func or a pointer to a struct that embeds wsrpc.Route, not int"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NewRegistry().Add("r", tt.handler)
			require.ErrorIs(t, err, ErrInvalidRoute)
			require.EqualError(t, err, `wsrpc: invalid route "r": `+tt.want)
		})
	}
}

func TestRegistryRouteNames(t *testing.T) {
	for _, name := range []string{"", " ", "a b", "tab\t", "nl\n", ".a", "a.", "a..b", "."} {
		err := NewRegistry().Add(name, func() {})
		require.ErrorIs(t, err, ErrInvalidRoute, "%q", name)
	}
	require.EqualError(t, NewRegistry().Add("", func() {}), `wsrpc: invalid route "": the route name is empty`)
	for _, name := range []string{"a", "a.b", "a.b.c", "_x", "ünï", "a-b"} {
		require.NoError(t, NewRegistry().Add(name, func() {}), name)
	}
}

func TestRegistryAddReplacesAndNames(t *testing.T) {
	r := NewRegistry()
	require.Equal(t, []string{"ping"}, r.Names())
	r.MustAdd("zeta", func() int { return 1 })
	r.MustAdd("alpha", func() int { return 2 })
	r.MustAdd("m", &proxyRoute{})
	require.Equal(t, []string{"alpha", "m", "ping", "zeta"}, r.Names())

	fr, _, _, ok := r.lookup("zeta")
	require.True(t, ok)
	out, err := call(t, fr.m, reflect.Value{}, "")
	require.NoError(t, err)
	require.Equal(t, "1", out)

	r.MustAdd("zeta", func() string { return "replaced" })
	fr, _, _, ok = r.lookup("zeta")
	require.True(t, ok)
	out, err = call(t, fr.m, reflect.Value{}, "")
	require.NoError(t, err)
	require.Equal(t, `"replaced"`, out)

	// A function may replace a struct route and the other way round.
	r.MustAdd("m", func() {})
	fr, sr, _, ok := r.lookup("m")
	require.True(t, ok)
	require.NotNil(t, fr)
	require.Nil(t, sr)
	r.MustAdd("zeta", &proxyRoute{})
	fr, sr, _, ok = r.lookup("zeta")
	require.True(t, ok)
	require.Nil(t, fr)
	require.NotNil(t, sr)
}

func TestRegistryRemove(t *testing.T) {
	r := NewRegistry()
	r.MustAdd("f", func() {})
	require.NoError(t, r.Remove("f"))
	_, _, _, ok := r.lookup("f")
	require.False(t, ok)

	err := r.Remove("f")
	require.ErrorIs(t, err, ErrRouteNotFound)
	require.EqualError(t, err, `wsrpc: route not found: "f"`)

	// The built-in ping can be removed too.
	require.NoError(t, r.Remove("ping"))
	require.Empty(t, r.Names())
	require.ErrorIs(t, r.Remove("ping"), ErrRouteNotFound)
}

func TestRegistryMustAddPanics(t *testing.T) {
	require.PanicsWithError(t, `wsrpc: invalid route "r": func r: variadic functions are not supported`, func() {
		NewRegistry().MustAdd("r", func(...int) {})
	})
}

func TestRegistryZeroValue(t *testing.T) {
	var r Registry
	require.Empty(t, r.Names())
	_, _, _, ok := r.lookup("ping")
	require.False(t, ok)
	require.ErrorIs(t, r.Remove("x"), ErrRouteNotFound)
	r.MustAdd("x", func() {})
	require.Equal(t, []string{"x"}, r.Names())
}

func TestRegistryLookup(t *testing.T) {
	r := NewRegistry()
	r.MustAdd("f", func() {})
	r.MustAdd("a.b", func() {})   // a dotted function route
	r.MustAdd("a", &proxyRoute{}) // a struct route sharing the first part
	r.MustAdd("kv", &proxyRoute{})

	type want struct {
		fr     string // name of the function route, "" for none
		sr     string // name of the struct route, "" for none
		member string
		ok     bool
	}
	tests := []struct {
		method string
		want   want
	}{
		{"f", want{fr: "f", ok: true}},
		{"ping", want{fr: "ping", ok: true}},
		{"a.b", want{fr: "a.b", ok: true}},                  // exact function route wins
		{"a.c", want{sr: "a", member: "c", ok: true}},       // else the struct route
		{"a", want{sr: "a", member: "", ok: true}},          // bare name: Init
		{"kv.get", want{sr: "kv", member: "get", ok: true}}, // member
		{"kv.x.y", want{sr: "kv", member: "x.y", ok: true}}, // the member keeps its dots
		{"f.x", want{}},    // function routes only by exact name
		{"ping.x", want{}}, //
		{"kv.", want{}},    // empty member
		{"nope", want{}},   //
		{"nope.x", want{}}, //
		{"", want{}},       //
		{".kv", want{}},    //
		{"KV.get", want{}}, // case-sensitive
		{"a.b.c", want{sr: "a", member: "b.c", ok: true}}, // not the function "a.b"
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			fr, sr, member, ok := r.lookup(tt.method)
			var got want
			if fr != nil {
				got.fr = fr.name
			}
			if sr != nil {
				got.sr = sr.name
			}
			got.member, got.ok = member, ok
			require.Equal(t, tt.want, got)
		})
	}
}

func TestRegistryPing(t *testing.T) {
	r := NewRegistry()
	fr, _, _, ok := r.lookup("ping")
	require.True(t, ok)
	m := fr.m
	require.Equal(t, "ping", m.name)
	for params, want := range map[string]string{
		"":                      "{}",
		"null":                  "{}",
		" null ":                "{}",
		"{}":                    "{}",
		`{"seq": 1.5}`:          `{"seq": 1.5}`, // verbatim, whitespace included
		`{"pong":"pong"}`:       `{"pong":"pong"}`,
		"\n {\"a\":[1,{}]} \t":  `{"a":[1,{}]}`,
		`{"method":"m","x":{}}`: `{"method":"m","x":{}}`,
	} {
		out, err := call(t, m, reflect.Value{}, params)
		require.NoError(t, err, params)
		require.Equal(t, want, out, params)
	}
	for _, params := range []string{"[]", "[1,2]", `"s"`, "1", "true"} {
		_, err := call(t, m, reflect.Value{}, params)
		requireWireError(t, err, TypeTypeError, "ping() takes keyword arguments only")
	}

	// Users may replace the built-in.
	r.MustAdd("ping", func() string { return "mine" })
	fr, _, _, _ = r.lookup("ping")
	out, err := call(t, fr.m, reflect.Value{}, "")
	require.NoError(t, err)
	require.Equal(t, `"mine"`, out)
}

func TestRegistryConcurrentAddAndLookup(t *testing.T) {
	r := NewRegistry()
	r.MustAdd("kv", &proxyRoute{})
	const writers, readers, rounds = 4, 8, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				name := fmt.Sprintf("w%d_%d", w, i%10)
				if i%3 == 2 {
					if err := r.Remove(name); err != nil && !errors.Is(err, ErrRouteNotFound) {
						t.Error(err)
					}
					continue
				}
				if err := r.Add(name, func() int { return i }); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				if fr, _, _, ok := r.lookup("ping"); !ok || fr.name != "ping" {
					t.Error("ping lost during concurrent changes")
					return
				}
				if _, sr, member, ok := r.lookup("kv.get"); !ok || sr.name != "kv" || member != "get" {
					t.Error("kv.get lost during concurrent changes")
					return
				}
				if fr, _, _, ok := r.lookup("w0_1"); ok {
					var w jwriter.Writer
					if err := fr.m.call(context.Background(), recvOf(reflect.Value{}), nil, &w); err != nil {
						t.Error(err)
					}
				}
				_ = r.Names()
			}
		}()
	}
	waitGroup(t, &wg, "the concurrent lookups")
	names := r.Names()
	require.Contains(t, names, "ping")
	require.Contains(t, names, "kv")
}

// recvOf is the receiver of a method call for the *T in v (none when v is
// the zero Value).
func recvOf(v reflect.Value) receiver {
	if !v.IsValid() {
		return receiver{}
	}
	return receiver{v.Type().Elem(), v.UnsafePointer()}
}

// The call-name index follows every change: an exact function route wins
// over an exposed member of the same full name, and the member is found
// again, with its full name and method, once that route is removed.
func TestRegistryIndexFollowsChanges(t *testing.T) {
	r := NewRegistry()
	r.MustAdd("kv", &proxyRoute{})
	got, ok := r.resolve("kv.get")
	require.True(t, ok)
	require.Equal(t, "get", got.member)
	require.Equal(t, "kv.get", got.full)
	require.NotNil(t, got.m)
	r.MustAdd("kv.get", func() {})
	got, ok = r.resolve("kv.get")
	require.True(t, ok)
	require.NotNil(t, got.fr, "the exact function route wins")
	require.NoError(t, r.Remove("kv.get"))
	got, ok = r.resolve("kv.get")
	require.True(t, ok)
	require.Nil(t, got.fr)
	require.Equal(t, "get", got.member)
	require.NoError(t, r.Remove("kv"))
	_, ok = r.resolve("kv.get")
	require.False(t, ok)
	// Many routes: every one is found, and names that are not routes are not.
	for i := range 300 {
		r.MustAdd("route"+strconv.Itoa(i), func() {})
	}
	for i := range 300 {
		got, ok := r.resolve("route" + strconv.Itoa(i))
		require.True(t, ok)
		require.Equal(t, "route"+strconv.Itoa(i), got.fr.name)
		_, ok = r.resolve("other" + strconv.Itoa(i))
		require.False(t, ok)
	}
}

// lookup is resolve as the tests read it: the route and the member.
func (r *Registry) lookup(method string) (fr *funcRoute, sr *structRoute, member string, ok bool) {
	t, ok := r.resolve(method)
	return t.fr, t.sr, t.member, ok
}
