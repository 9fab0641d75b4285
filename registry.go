package wsrpc

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mailru/easyjson/jwriter"
)

// Registry holds the routes one side exposes to its peer: function routes
// and struct routes (see the package documentation for the rules). It is
// safe for concurrent use; routes added or removed while connections are open
// take effect for their later calls. Lookups take no lock.
//
// Every registry starts with the built-in route "ping", which echoes its
// params (the keepalive of PROTOCOL §9); it may be replaced or removed.
type Registry struct {
	mu     sync.Mutex // serializes writers
	routes atomic.Pointer[map[string]any]
}

// NewRegistry returns a registry holding only the built-in "ping".
func NewRegistry() *Registry {
	r := &Registry{}
	m := map[string]any{"ping": pingRoute}
	r.routes.Store(&m)
	return r
}

// pingRoute echoes a params object; absent or null params give {}.
var pingRoute = &funcRoute{name: "ping", m: &method{name: "ping", call: func(ctx context.Context, recv reflect.Value, params []byte, out *jwriter.Writer) error {
	switch paramsShape(params) {
	case 0:
		out.RawString("{}")
	case '{':
		out.Raw(params, nil)
	default:
		return typeErrorf("ping() takes keyword arguments only")
	}
	return nil
}}}

// Add registers handler under name, replacing an earlier route of that name.
// handler is either a function (a function route, called by its exact name)
// or a pointer to a struct that embeds Route (a struct route: one instance
// per connection, its exposed methods called as "name.method"). The
// handler's shape is checked here; the error wraps ErrInvalidRoute and names
// the method and the rule it breaks.
func (r *Registry) Add(name string, handler any) error {
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("%w: the route name is empty", ErrInvalidRoute)
	}
	var route any
	v := reflect.ValueOf(handler)
	switch {
	case !v.IsValid():
		return fmt.Errorf("%w %q: the handler is nil", ErrInvalidRoute, name)
	case v.Kind() == reflect.Func:
		if v.IsNil() {
			return fmt.Errorf("%w %q: the handler is a nil func", ErrInvalidRoute, name)
		}
		fr, err := newFuncRoute(name, v)
		if err != nil {
			return fmt.Errorf("%w %q: %w", ErrInvalidRoute, name, err)
		}
		route = fr
	case v.Kind() == reflect.Pointer && v.Type().Elem().Kind() == reflect.Struct:
		if v.IsNil() {
			return fmt.Errorf("%w %q: the handler is a nil pointer", ErrInvalidRoute, name)
		}
		sr, err := newStructRoute(name, v)
		if err != nil {
			return fmt.Errorf("%w %q: %w", ErrInvalidRoute, name, err)
		}
		route = sr
	case v.Kind() == reflect.Struct:
		return fmt.Errorf("%w %q: pass a pointer to the struct (&%s{})", ErrInvalidRoute, name, v.Type().Name())
	default:
		return fmt.Errorf("%w %q: a handler is a func or a pointer to a struct, not %s", ErrInvalidRoute, name, v.Type())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.routes.Load()
	m := make(map[string]any, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[name] = route
	r.routes.Store(&m)
	return nil
}

// MustAdd is Add for setup code: it panics on error.
func (r *Registry) MustAdd(name string, handler any) {
	if err := r.Add(name, handler); err != nil {
		panic(err)
	}
}

// Remove unregisters name. It returns an error matching ErrRouteNotFound if
// there is no such route. Connections keep struct-route instances they
// already made.
func (r *Registry) Remove(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.routes.Load()
	if _, ok := old[name]; !ok {
		return fmt.Errorf("%w: %q", ErrRouteNotFound, name)
	}
	m := make(map[string]any, len(old))
	for k, v := range old {
		if k != name {
			m[k] = v
		}
	}
	r.routes.Store(&m)
	return nil
}

// Names returns the registered route names, sorted.
func (r *Registry) Names() []string {
	m := *r.routes.Load()
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// lookup resolves a wire method name: an exact function route first (so a
// function registered as "a.b" is found), else "name.member" (or a bare
// name) of a struct route.
func (r *Registry) lookup(method string) (fr *funcRoute, sr *structRoute, member string, ok bool) {
	m := *r.routes.Load()
	if rt, found := m[method]; found {
		switch rt := rt.(type) {
		case *funcRoute:
			return rt, nil, "", true
		case *structRoute:
			return nil, rt, "", true
		}
	}
	if i := strings.IndexByte(method, '.'); i >= 0 {
		if rt, found := m[method[:i]].(*structRoute); found {
			return nil, rt, method[i+1:], true
		}
	}
	return nil, nil, "", false
}

// method is one callable handler with its decoding and encoding.
type method struct {
	name string // for messages: "subtract", "Storage.Get"
	// call decodes params (nil when absent), calls the handler on recv (the
	// zero Value for function routes) and appends the JSON result to out.
	call func(ctx context.Context, recv reflect.Value, params []byte, out *jwriter.Writer) error
}

func methodOf(s *signature) *method {
	return &method{name: s.name, call: s.invoke}
}
