package wsrpc

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
)

// Registry holds the routes one side of a connection exposes to its peer.
//
// It is safe for concurrent use: routes added or removed while connections
// are open take effect for their later calls, and looking a route up takes
// no lock. A registry made by NewRegistry starts with the built-in route
// "ping", which echoes its params object (the keepalive of the Python
// reference depends on it); it may be replaced or removed. The zero Registry
// is empty and ready to use.
type Registry struct {
	mu      sync.Mutex                 // serializes Add and Remove
	routes  atomic.Pointer[routeTable] // immutable; replaced on change
	version atomic.Uint64              // incremented by every Add and Remove
}

// routeTable is the registry's routes by name and the index of the names
// they are called by (see routeindex.go), replaced together.
type routeTable struct {
	byName map[string]routeRef
	calls  *callIndex
}

// store makes m the registry's routes.
func (r *Registry) store(m map[string]routeRef) {
	r.routes.Store(&routeTable{byName: m, calls: newCallIndex(m)})
}

// routeRef is one registered route: exactly one field is set.
type routeRef struct {
	fr *funcRoute
	sr *structRoute
}

// NewRegistry returns a registry holding only the built-in route "ping".
func NewRegistry() *Registry {
	r := &Registry{}
	r.store(map[string]routeRef{"ping": {fr: pingRoute}})
	return r
}

func (r *Registry) load() map[string]routeRef {
	if t := r.routes.Load(); t != nil {
		return t.byName
	}
	return nil
}

// Add registers handler under name, replacing an earlier route of that
// name. Connections that already created an instance of an earlier struct
// route keep using it.
//
// A handler is either a function or a pointer to a struct that embeds Route.
//
// A function is a function route, called by exactly its name, which may
// contain dots ("math.add"; an exact function-route match wins over a
// struct route "math").
//
// A pointer to a struct embedding Route is a struct route (see Route): the
// peer calls its exposed methods as "name.method" and its Init as "name". Its
// name must not contain a dot.
//
// Functions and exposed methods have this shape. Parameters, in order: an
// optional context.Context (cancelled when the connection closes), then one
// of:
//
//   - nothing: params must be absent, null, {} or [];
//   - one struct or pointer to struct: named params. The keys of a JSON
//     object map to fields by their json tag, else by the Go field name,
//     case-sensitively (fields of embedded structs are promoted as in
//     encoding/json). An unknown key, or a missing required field, is a
//     TypeError. A field is optional when it is a pointer, or its json tag
//     has omitempty or omitzero, or it has the tag wsrpc:"optional". Absent
//     or null params give the zero struct (required fields then report
//     missing). These params are keyword arguments only, as a reference
//     route's are: an empty array is no arguments, and any other array or a
//     single scalar (an array of one object included) is a TypeError
//     ("takes keyword arguments only"); take positional params with the
//     positional shape below. Structs that decode
//     themselves (json.Unmarshaler or encoding.TextUnmarshaler without
//     easyjson code, such as time.Time) are positional values instead;
//   - one map[string]T: receives the JSON object (an empty map when params
//     are absent, null or []); any other array or a scalar is a TypeError,
//     as for a struct;
//   - one json.RawMessage or easyjson.RawMessage: receives params verbatim,
//     whatever their shape (nil when absent or null);
//   - otherwise positional: element i of a JSON array is parameter i, the
//     counts must match; a single non-array value is the one parameter; a
//     JSON object is a TypeError.
//
// Parameter types that cannot come from JSON (channels, functions,
// unsafe.Pointer, complex numbers, interfaces with methods) and variadic
// functions are rejected.
//
// Results: none, error, R, or (R, error). R is encoded with its easyjson
// code when R or *R implements easyjson.Marshaler, else with encoding/json
// (so []byte is sent as padded standard base64, as the reference does). No
// result, or a nil R, is sent as null; a value that cannot be encoded (NaN,
// a channel inside an interface) is a ValueError reply. A non-nil error is
// sent as an error reply (see Error).
//
// Params are decoded with the type's easyjson code when *T implements
// easyjson.Unmarshaler, else with encoding/json. A JSON value of the wrong
// type, or a number that does not fit (1.5 or 1e300 for an int), is a
// TypeError naming the argument.
//
// The error, which wraps ErrInvalidRoute, names the method and the rule it
// breaks, e.g. `wsrpc: invalid route "kv": method Storage.Get: the second
// result must be error`. Route names must not be empty, contain white space
// or control characters, or begin or end with a dot, or contain "..".
func (r *Registry) Add(name string, handler any) error {
	if err := checkRouteName(name); err != nil {
		return fmt.Errorf("%w %q: %s", ErrInvalidRoute, name, err)
	}
	ref, err := newRoute(name, handler)
	if err != nil {
		return fmt.Errorf("%w %q: %w", ErrInvalidRoute, name, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.load()
	m := make(map[string]routeRef, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[name] = ref
	r.store(m)
	r.version.Add(1)
	return nil
}

func newRoute(name string, handler any) (routeRef, error) {
	if ih, ok := handler.(interceptedHandler); ok {
		ref, err := newRoute(name, ih.h)
		if err != nil {
			return ref, err
		}
		// Intercept inside Intercept: the outer interceptors wrap the inner.
		if ref.fr != nil {
			ref.fr.intercept = chain(ih.ics, orStep(ref.fr.intercept))
		} else {
			ref.sr.intercept = chain(ih.ics, orStep(ref.sr.intercept))
		}
		return ref, nil
	}
	if dh, ok := handler.(docHandler); ok {
		ref, err := newRoute(name, dh.handler)
		if err == nil {
			ref.setDoc(dh.text, dh.errorTypes)
		}
		return ref, err
	}
	if ih, ok := handler.(inlineHandler); ok {
		ref, err := newRoute(name, ih.fn)
		if err == nil && ref.fr == nil {
			return routeRef{}, fmt.Errorf("Inline takes a func; mark a struct route with the tag flag `wsrpc:\"proxy,inline\"`")
		}
		if ref.fr != nil {
			ref.fr.inline.on.Store(true)
		}
		return ref, err
	}
	if handler == nil {
		return routeRef{}, fmt.Errorf("the handler is nil")
	}
	v := reflect.ValueOf(handler)
	t := v.Type()
	switch {
	case t.Kind() == reflect.Func:
		if v.IsNil() {
			return routeRef{}, fmt.Errorf("the handler is a nil %s", t)
		}
		fr, err := newFuncRoute(name, v)
		return routeRef{fr: fr}, err
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct:
		if v.IsNil() {
			return routeRef{}, fmt.Errorf("the handler is a nil %s", t)
		}
		if strings.Contains(name, ".") {
			return routeRef{}, fmt.Errorf("a struct route name cannot contain a dot: callers reach its methods as \"%s.method\"", name)
		}
		sr, err := newStructRoute(name, v)
		return routeRef{sr: sr}, err
	case t.Kind() == reflect.Struct:
		return routeRef{}, fmt.Errorf("pass a pointer to the struct (&%s{}), not a %s value", t.Name(), t)
	}
	return routeRef{}, fmt.Errorf("a handler is a func or a pointer to a struct that embeds wsrpc.Route, not %s", t)
}

func checkRouteName(name string) error {
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("the route name is empty")
	}
	for _, c := range name {
		if unicode.IsSpace(c) || unicode.IsControl(c) {
			return fmt.Errorf("the route name contains white space or a control character")
		}
	}
	if strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
		return fmt.Errorf("the route name has an empty part between dots")
	}
	return nil
}

// MustAdd is like Add but panics on error; it is meant for package-level
// setup, where an invalid route is a programming error.
func (r *Registry) MustAdd(name string, handler any) {
	if err := r.Add(name, handler); err != nil {
		panic(err)
	}
}

// Remove unregisters the route name. It returns an error matching
// ErrRouteNotFound (with errors.Is) when there is no such route.
// Connections keep the struct-route instances they already created.
func (r *Registry) Remove(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.load()
	if _, ok := old[name]; !ok {
		return fmt.Errorf("%w: %q", ErrRouteNotFound, name)
	}
	m := make(map[string]routeRef, len(old))
	for k, v := range old {
		if k != name {
			m[k] = v
		}
	}
	r.store(m)
	r.version.Add(1)
	return nil
}

// Names returns the names of the registered routes, sorted.
func (r *Registry) Names() []string {
	m := r.load()
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// resolve resolves a wire method name:
//  1. an exact match of a function route wins (a func registered as "a.b"
//     is found by "a.b");
//  2. else the name splits at the first dot into route name and member (the
//     member may contain dots; "" when there is no dot): a struct route of
//     that name is returned with the member;
//  3. else ok is false. So is "func.x" where func is a function route, and
//     "kv." (an empty member after a dot).
//
// For an exposed member the target also has its full name and method, as
// the call-name index holds them.
func (r *Registry) resolve(method string) (target callTarget, ok bool) {
	t := r.routes.Load()
	if t == nil {
		return callTarget{}, false
	}
	// Every registered name, and every exposed member's full name, is in
	// the index: what is left are members that are not exposed.
	if c := t.calls.find(method); c != nil {
		return *c, true
	}
	i := strings.IndexByte(method, '.')
	if i < 0 || i == len(method)-1 {
		return callTarget{}, false
	}
	if ref := t.byName[method[:i]]; ref.sr != nil {
		return callTarget{sr: ref.sr, member: method[i+1:]}, true
	}
	return callTarget{}, false
}
