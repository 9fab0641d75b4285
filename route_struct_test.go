package wsrpc

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNamingWireName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Get", "get"},
		{"GetData", "get_data"},
		{"HTTPStatus", "http_status"},
		{"UserID", "user_id"},
		{"ID", "id"},
		{"A", "a"},
		{"Get2FA", "get2_fa"},
		{"MD5Sum", "md5_sum"},
		{"Base64Encode", "base64_encode"},
		{"ParseURLQuery", "parse_url_query"},
		{"GetHTTP2Conn", "get_http2_conn"},
		{"Get_Data", "get_data"},
		{"get", "get"},
		{"V2", "v2"},
		{"ÜberCool", "über_cool"},
		{"", ""},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, wireName(tt.in), tt.in)
	}
}

// proxyRoute: only the listed methods, one renamed, one listed but masked.
type proxyRoute struct {
	Route `wsrpc:"proxy" methods:"Get, GetData=data, Nested=a.b, Dropped" noproxy:"Dropped,Hidden"`
	dep   *int
	local int
}

func (p *proxyRoute) Get(ctx context.Context) int { return *p.dep + p.local }
func (p *proxyRoute) GetData() string             { return "data" }
func (p *proxyRoute) Nested() string              { return "nested" }
func (p *proxyRoute) Dropped()                    {}
func (p *proxyRoute) Hidden()                     {}
func (p *proxyRoute) Unlisted() string            { return "unlisted" }
func (p *proxyRoute) helper() string              { return "helper" }
func (p *proxyRoute) Inc()                        { p.local++ }

// mixin is embedded: its methods are promoted, not the route's own.
type mixin struct{}

func (mixin) Leak() string     { return "leak" }
func (*mixin) PtrLeak() string { return "ptrleak" }
func (mixin) Shadowed() string { return "mixin" }

type allowedRoute struct {
	Route `wsrpc:"allowed" noproxy:"Shutdown"`
	mixin
}

func (a *allowedRoute) Init(ctx context.Context, p struct {
	Greeting string `json:"greeting,omitempty"`
}) string {
	return "init: " + p.Greeting
}
func (a *allowedRoute) Status() string              { return "ok" }
func (a allowedRoute) ValueMethod() string          { return "value" }
func (a *allowedRoute) Shutdown()                   {}
func (a *allowedRoute) Shadowed() string            { return "own" }
func (a *allowedRoute) OnClose(ctx context.Context) {}
func (a *allowedRoute) internal()                   {}

type prefixRoute struct {
	Route `wsrpc:"prefix" noproxy:"RPCSecret"`
}

func (p *prefixRoute) RPCGet() string     { return "get" }
func (p *prefixRoute) RPCGetData() string { return "get_data" }
func (p *prefixRoute) RPCSecret()         {}
func (p *prefixRoute) RPC()               {}
func (p *prefixRoute) Plain() string      { return "plain" }

type customPrefixRoute struct {
	Route `wsrpc:"prefix=Do,concurrent"`
}

func (c *customPrefixRoute) DoThing() string { return "thing" }
func (c *customPrefixRoute) RPCThing()       {}

type onlyInit struct {
	Route `wsrpc:"proxy"`
}

func (o *onlyInit) Init() int { return 7 }

type noInit struct {
	Route `methods:"Get"` // the proxy mode is implied by the methods tag
}

func (n *noInit) Get() int { return 1 }

func TestRouteStructExposure(t *testing.T) {
	dep := 40
	r := NewRegistry()
	r.MustAdd("p", &proxyRoute{dep: &dep, local: 2})
	r.MustAdd("a", &allowedRoute{})
	r.MustAdd("x", &prefixRoute{})
	r.MustAdd("d", &customPrefixRoute{})
	r.MustAdd("i", &onlyInit{})
	r.MustAdd("n", &noInit{})

	const (
		notImpl = "Method not implemented"
		masked  = "Method masked"
	)
	tests := []struct {
		method string
		result string // JSON result, or the error message for NotImplementedError
		err    bool
	}{
		// proxy
		{"p.get", "42", false},
		{"p.data", `"data"`, false},
		{"p.get_data", notImpl, true}, // renamed away
		{"p.a.b", `"nested"`, false},  // a wire name with a dot
		{"p.dropped", masked, true},   // listed but noproxy wins
		{"p.hidden", masked, true},    // noproxy, not listed
		{"p.unlisted", notImpl, true}, // exported but not listed
		{"p.inc", notImpl, true},      //
		{"p.helper", notImpl, true},   // unexported
		{"p.Get", notImpl, true},      // wire names are case-sensitive
		{"p", notImpl, true},          // no Init
		{"p.init", notImpl, true},     //
		// allowed
		{"a.status", `"ok"`, false},
		{"a.value_method", `"value"`, false}, // value receiver
		{"a.shadowed", `"own"`, false},       // declared on the struct: its own
		{"a.shutdown", masked, true},
		{"a.leak", notImpl, true},     // promoted from an embedded type
		{"a.ptr_leak", notImpl, true}, //
		{"a.init", notImpl, true},     // only through the bare name
		{"a.on_close", notImpl, true}, // never
		{"a.internal", notImpl, true}, //
		{"a", `"init: "`, false},      // bare name runs Init
		// prefix
		{"x.get", `"get"`, false},
		{"x.get_data", `"get_data"`, false},
		{"x.rpc_get", notImpl, true},
		{"x.secret", masked, true},
		{"x.plain", notImpl, true},
		{"x.", "", true}, // lookup fails: no member
		{"d.thing", `"thing"`, false},
		// bare names
		{"i", "7", false},
		{"n.get", "1", false},
		{"n", notImpl, true},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			fr, sr, member, ok := r.lookup(tt.method)
			if tt.result == "" {
				require.False(t, ok)
				return
			}
			require.True(t, ok)
			require.Nil(t, fr)
			m, e := sr.member(member)
			if tt.err {
				require.Nil(t, m)
				require.NotNil(t, e)
				require.Equal(t, TypeNotImplemented, e.Type)
				// The reference's words first, then what was called.
				require.True(t, strings.HasPrefix(e.Message, tt.result+": "+tt.method+" "), "%q", e.Message)
				return
			}
			require.Nil(t, e)
			out, err := call(t, m, sr.newInstance(), "")
			require.NoError(t, err)
			require.Equal(t, tt.result, out)
		})
	}

	_, sr, _, _ := r.lookup("d")
	require.True(t, sr.concurrent)
	_, sr, _, _ = r.lookup("p")
	require.False(t, sr.concurrent)
	require.Equal(t, "p.get", sr.members["get"].name, "errors name the route called")
}

func TestRouteStructInit(t *testing.T) {
	r := NewRegistry()
	r.MustAdd("a", &allowedRoute{})
	r.MustAdd("p", &proxyRoute{})
	_, sr, _, _ := r.lookup("a")
	init := sr.initMethod()
	require.NotNil(t, init)
	require.Equal(t, "a", init.name, "Init runs as the bare name")
	bare, e := sr.member("")
	require.Nil(t, e)
	require.Same(t, init, bare)
	// The bare call's params reach Init and its result is the call's result.
	out, err := call(t, init, sr.newInstance(), `{"greeting":"hi"}`)
	require.NoError(t, err)
	require.Equal(t, `"init: hi"`, out)
	_, err = call(t, init, sr.newInstance(), `{"bye":1}`)
	requireWireError(t, err, TypeTypeError, "a() got an unexpected keyword argument 'bye'")

	_, sr, _, _ = r.lookup("p")
	require.Nil(t, sr.initMethod())
}

func TestRouteStructNewInstanceIsAShallowCopy(t *testing.T) {
	dep := 1
	proto := &proxyRoute{dep: &dep, local: 10}
	r := NewRegistry()
	r.MustAdd("p", proto)
	proto.local = 99 // Add copied the value: later changes are not seen

	_, sr, _, _ := r.lookup("p")
	a, b := sr.newInstance(), sr.newInstance()
	pa, pb := a.Interface().(*proxyRoute), b.Interface().(*proxyRoute)
	require.NotSame(t, pa, pb)
	require.NotSame(t, proto, pa)
	require.Equal(t, 10, pa.local)
	require.Same(t, &dep, pa.dep) // shallow: dependencies are shared
	require.Same(t, pa.dep, pb.dep)

	inc, e := sr.member("get")
	require.Nil(t, e)
	pa.local = 20
	out, err := call(t, inc, a, "")
	require.NoError(t, err)
	require.Equal(t, "21", out)
	out, err = call(t, inc, b, "")
	require.NoError(t, err)
	require.Equal(t, "11", out)
	dep = 5
	out, err = call(t, inc, b, "")
	require.NoError(t, err)
	require.Equal(t, "15", out)
}

type closer struct {
	Route  `wsrpc:"allowed"`
	closed *atomic.Int32
	boom   bool
}

func (c *closer) Touch() {}
func (c *closer) OnClose(ctx context.Context) {
	if c.boom {
		panic("boom")
	}
	c.closed.Add(1)
}

func TestRouteStructCloseInstance(t *testing.T) {
	var closed atomic.Int32
	r := NewRegistry()
	r.MustAdd("c", &closer{closed: &closed})
	r.MustAdd("b", &closer{closed: &closed, boom: true})
	r.MustAdd("p", &proxyRoute{})

	_, sr, _, _ := r.lookup("c")
	require.NoError(t, sr.closeInstance(context.Background(), sr.newInstance()))
	require.Equal(t, int32(1), closed.Load())
	_, e := sr.member("on_close")
	require.Equal(t, "Method not implemented: c.on_close is not exposed (c exposes c.touch)", e.Message)
	_, e = sr.member("")
	require.Equal(t, "Method not implemented: c has no Init to run (c exposes c.touch)", e.Message)

	_, sr, _, _ = r.lookup("b")
	err := sr.closeInstance(context.Background(), sr.newInstance())
	require.ErrorContains(t, err, "boom")
	require.ErrorContains(t, err, `route "b"`)

	_, sr, _, _ = r.lookup("p")
	require.NoError(t, sr.closeInstance(context.Background(), sr.newInstance()))
}

// Invalid struct routes, one per rule.
type (
	noMarker  struct{ x int }
	ptrMarker struct{ *Route }
	noTag     struct{ Route }
	badMode   struct {
		Route `wsrpc:"everything"`
	}
	badFlag struct {
		Route `wsrpc:"proxy,fast"`
	}
	proxyValue struct {
		Route `wsrpc:"proxy=x"`
	}
	lowPrefix struct {
		Route `wsrpc:"prefix=do"`
	}
	allowedMethods struct {
		Route `wsrpc:"allowed" methods:"Get"`
	}
	prefixMethods struct {
		Route `wsrpc:"prefix" methods:"Get"`
	}
	missingMethod struct {
		Route `wsrpc:"proxy" methods:"Nope"`
	}
	unexportedListed struct {
		Route `wsrpc:"proxy" methods:"get"`
	}
	initListed struct {
		Route `wsrpc:"proxy" methods:"Init"`
	}
	onCloseListed struct {
		Route `wsrpc:"proxy" methods:"OnClose"`
	}
	emptyWire struct {
		Route `wsrpc:"proxy" methods:"Get="`
	}
	noproxyMissing struct {
		Route `wsrpc:"allowed" noproxy:"Nope"`
	}
	noproxyInit struct {
		Route `wsrpc:"allowed" noproxy:"Init"`
	}
	clash struct {
		Route `wsrpc:"allowed"`
	}
	renameClash struct {
		Route `wsrpc:"proxy" methods:"Get,Other=get"`
	}
	badShape struct {
		Route `wsrpc:"proxy" methods:"Get"`
	}
	badShapeAllowed struct {
		Route `wsrpc:"allowed"`
	}
	badInit struct {
		Route `wsrpc:"proxy"`
	}
	badOnClose struct {
		Route `wsrpc:"proxy"`
	}
)

func (*unexportedListed) get()                 {}
func (*initListed) Init()                      {}
func (*onCloseListed) OnClose(context.Context) {}
func (*emptyWire) Get()                        {}
func (*noproxyInit) Init()                     {}
func (*clash) GetID()                          {}
func (*clash) GetId()                          {}
func (*renameClash) Get()                      {}
func (*renameClash) Other()                    {}
func (*badShape) Get() (int, int)              { return 0, 0 }
func (*badShapeAllowed) Fine()                 {}
func (*badShapeAllowed) Bad(...int)            {}
func (*badInit) Init(chan int)                 {}
func (*badOnClose) OnClose()                   {}

func TestRouteStructAddErrors(t *testing.T) {
	tests := []struct {
		name    string
		handler any
		want    string
	}{
		{"no marker", &noMarker{}, "struct noMarker does not embed wsrpc.Route: add the field wsrpc.Route `wsrpc:\"proxy\" methods:\"Get,Set\"`"},
		{"value", proxyRoute{}, "pass a pointer to the struct (&proxyRoute{}), not a wsrpc.proxyRoute value"},
		{"nil pointer", (*proxyRoute)(nil), "the handler is a nil *wsrpc.proxyRoute"},
		{"pointer marker", &ptrMarker{}, "struct ptrMarker: embed wsrpc.Route by value, not as *wsrpc.Route"},
		{"no tag", &noTag{}, "struct noTag: the embedded wsrpc.Route needs a tag saying which methods to expose"},
		{"unknown mode", &badMode{}, `struct badMode: unknown mode "everything" in the wsrpc tag (use proxy, allowed or prefix)`},
		{"unknown flag", &badFlag{}, `struct badFlag: unknown flag "fast" in the wsrpc tag (known: concurrent, inline)`},
		{"proxy with value", &proxyValue{}, `struct proxyValue: the proxy mode takes no value ("proxy=x")`},
		{"lower-case prefix", &lowPrefix{}, `struct lowPrefix: the prefix "do" must start with an upper-case letter`},
		{"methods in allowed mode", &allowedMethods{}, "struct allowedMethods: the methods tag belongs to the proxy mode"},
		{"methods in prefix mode", &prefixMethods{}, "struct prefixMethods: the methods tag belongs to the proxy mode"},
		{"listed method missing", &missingMethod{}, "struct missingMethod: methods lists Nope, which is not an exported method of *missingMethod"},
		{"unexported listed", &unexportedListed{}, "struct unexportedListed: methods lists get, which is not an exported method"},
		{"Init listed", &initListed{}, "struct initListed: methods lists Init; Init runs through the bare route name"},
		{"OnClose listed", &onCloseListed{}, "struct onCloseListed: methods lists OnClose"},
		{"empty wire name", &emptyWire{}, "struct emptyWire: methods gives Get an empty wire name"},
		{"noproxy missing", &noproxyMissing{}, "struct noproxyMissing: noproxy lists Nope, which is not an exported method of *noproxyMissing"},
		{"noproxy Init", &noproxyInit{}, "struct noproxyInit: noproxy lists Init"},
		{"wire name clash", &clash{}, `struct clash: methods GetID and GetId both have the wire name "get_id"`},
		{"rename clash", &renameClash{}, `struct renameClash: methods Get and Other both have the wire name "get"`},
		{"bad method shape", &badShape{}, "method badShape.Get: the second result must be error"},
		{"bad shape in allowed mode", &badShapeAllowed{}, "method badShapeAllowed.Bad: variadic functions are not supported"},
		{"bad Init", &badInit{}, "method badInit.Init: parameter 1: type chan int cannot be decoded from JSON"},
		{"bad OnClose", &badOnClose{}, "method badOnClose.OnClose: it must be OnClose(ctx context.Context)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NewRegistry().Add("r", tt.handler)
			require.ErrorIs(t, err, ErrInvalidRoute)
			require.True(t, strings.HasPrefix(err.Error(), `wsrpc: invalid route "r": `), err.Error())
			require.Contains(t, err.Error(), tt.want)
		})
	}

	err := NewRegistry().Add("a.b", &proxyRoute{})
	require.ErrorIs(t, err, ErrInvalidRoute)
	require.ErrorContains(t, err, "a struct route name cannot contain a dot")
}

func TestRouteStructMethodErrorsPassThrough(t *testing.T) {
	r := NewRegistry()
	r.MustAdd("e", &erring{})
	_, sr, member, ok := r.lookup("e.fail")
	require.True(t, ok)
	m, e := sr.member(member)
	require.Nil(t, e)
	_, err := call(t, m, sr.newInstance(), `{"why":"gone"}`)
	require.Same(t, errGone, err)

	m, _ = sr.member("count")
	_, err = call(t, m, sr.newInstance(), `[1,2]`)
	requireWireError(t, err, TypeTypeError, "e.count() takes 1 positional argument but 2 were given")
}

var errGone = errors.New("gone")

type erring struct {
	Route `wsrpc:"allowed"`
}

func (*erring) Fail(ctx context.Context, p struct {
	Why string `json:"why"`
}) (string, error) {
	return "", errGone
}
func (*erring) Count(n int) int { return n }
