package wsrpc

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Route is the marker a struct embeds to become a struct route. Register a
// pointer to the struct with Registry.Add; each connection gets its own
// instance, a shallow copy of the registered value, created on first use (so
// the registered value can carry dependencies such as a database handle).
// Calls on one instance run one at a time, in arrival order, unless the
// route opts into concurrency.
//
// The tag on the embedded field says which methods the peer may call; a
// method is called as "<route name>.<wire name>":
//
//	type Storage struct {
//		wsrpc.Route `wsrpc:"proxy" methods:"Get,Set"` // only Get and Set: "kv.get", "kv.set"
//		db *sql.DB
//	}
//
//	type Admin struct {
//		wsrpc.Route `wsrpc:"allowed" noproxy:"Shutdown"` // every exported method but Shutdown
//	}
//
//	type Legacy struct {
//		wsrpc.Route `wsrpc:"prefix"` // methods named RPCName, called as "name"
//	}
//
// The wsrpc tag is a mode, optionally followed by flags after commas:
//
//   - proxy: only the methods listed in the methods tag are callable; other
//     members answer NotImplementedError "Method not implemented". An entry
//     "Go=wire" chooses the wire name (methods:"Get,GetData=data"). Every
//     listed name must be an exported method with a valid shape. The mode
//     may be left out when a methods tag is present.
//   - allowed: every exported method is callable (the reference's
//     AllowedRoute).
//   - prefix: methods named RPC<Name> are callable as <name> (the reference's
//     PrefixRoute); `wsrpc:"prefix=Do"` uses the prefix Do instead.
//   - flag inline (`wsrpc:"proxy,inline"`, demoted as Inline says): the methods never block (no
//     I/O, no calls to the peer, no waiting on locks held elsewhere), so the
//     engine may run them in the connection's read path, with no
//     hand-off, and write all replies of one read in one write. A call
//     to the peer from an inline handler fails at once.
//   - flag concurrent (`wsrpc:"proxy,concurrent"`): calls on one instance may
//     run at the same time; the struct then guards its own state.
//
// Methods named in the noproxy tag (noproxy:"Shutdown,Reset") always answer
// NotImplementedError "Method masked", whatever the mode.
//
// Wire names are the Go names in lower snake case: Get → get, GetData →
// get_data, HTTPStatus → http_status, UserID → user_id, Get2FA → get2_fa
// (digits stay with the word before them); in prefix mode the prefix is
// removed first (RPCGetData → get_data). Two methods with the same wire name
// are an error.
//
// Never callable as members: unexported methods, Init, OnClose, RouteDocs
// (see Documented), and methods the mode does not select. Methods promoted from embedded types (other than
// the marker, which has none) are not the struct's own: the allowed and
// prefix modes do not expose them, so they answer "Method not implemented"
// as mixin methods do in the reference; list them in proxy mode (or declare
// them on the struct) to expose them.
//
// A method named Init, of any valid shape, is the route's initializer. It
// runs once per connection, before the first member call; calling the bare
// route name ("kv") runs it with that call's params and returns its result.
// A struct without Init answers the bare name with "Method not implemented".
// Implement OnCloser to be told when the connection closes.
//
// Methods follow the same shape rules as function routes (see
// Registry.Add).
type Route struct{}

// OnCloser is implemented by struct routes that want a hook when their
// connection closes: OnClose runs once per instance the connection created,
// after the instance's calls ended. It is never callable from the wire. A
// panic in it is recovered and logged.
type OnCloser interface {
	OnClose(ctx context.Context)
}

var (
	typeRoute    = reflect.TypeFor[Route]()
	typeOnCloser = reflect.TypeFor[OnCloser]()
)

// Exposure modes of the wsrpc tag.
const (
	modeProxy   = "proxy"
	modeAllowed = "allowed"
	modePrefix  = "prefix"
)

// structRoute is a registered struct type with its method tables, built once
// at Add and read-only afterwards.
type structRoute struct {
	name       string
	concurrent bool        // the struct opted into concurrent execution
	inline     inlineState // on: its methods never block: run them on the reading goroutine (until demoted, see Options.InlineBudget)
	intercept  Next        // the route's interceptors (see Intercept); nil for none

	typeName string
	proto    reflect.Value // *T: a copy of the registered value, never mutated
	elem     reflect.Type  // T
	init     *method
	members  map[string]*method    // wire name → exposed method
	full     map[string]wireMember // wire name → its method and "route.member", for hooks and logs
	masked   map[string]bool       // wire names that answer "Method masked"
	exposed  string                // " (route exposes …)", for the errors of member, built once
	onClose  bool

	// For Registry.Routes:
	goNames map[string]string // wire name → Go method name of the exposed members
	docs    map[string]string // Go method name → doc (Documented); "Init" documents the bare name
	doc     routeDoc          // from Doc, for the bare name when docs has no "Init"
}

func newStructRoute(name string, v reflect.Value) (*structRoute, error) {
	pt := v.Type()
	st := pt.Elem()
	tn := st.Name()
	if tn == "" {
		tn = st.String()
	}
	marker, err := findMarker(st, tn)
	if err != nil {
		return nil, err
	}
	sr := &structRoute{
		name:     name,
		typeName: tn,
		members:  map[string]*method{},
		masked:   map[string]bool{},
	}
	sr.proto = reflect.New(st)
	sr.elem = st
	sr.proto.Elem().Set(v.Elem())

	// The wsrpc tag: mode[=value][,flag...]
	wtag := marker.Tag.Get("wsrpc")
	methodsTag, hasMethods := marker.Tag.Lookup("methods")
	modeSpec, flags, _ := strings.Cut(wtag, ",")
	mode, modeArg, hasArg := strings.Cut(strings.TrimSpace(modeSpec), "=")
	mode = strings.TrimSpace(mode)
	if mode == "" {
		if !hasMethods {
			return nil, fmt.Errorf("struct %s: the embedded wsrpc.Route needs a tag saying which methods to expose: "+
				"`wsrpc:\"proxy\" methods:\"Get,Set\"`, `wsrpc:\"allowed\"` or `wsrpc:\"prefix\"`", tn)
		}
		mode = modeProxy
	}
	for _, f := range splitList(flags) {
		switch f {
		case "concurrent":
			sr.concurrent = true
		case "inline":
			sr.inline.on.Store(true)
		default:
			return nil, fmt.Errorf("struct %s: unknown flag %q in the wsrpc tag (known: concurrent, inline)", tn, f)
		}
	}
	prefix := ""
	switch mode {
	case modeProxy, modeAllowed:
		if hasArg {
			return nil, fmt.Errorf("struct %s: the %s mode takes no value (%q)", tn, mode, modeSpec)
		}
		if mode == modeAllowed && hasMethods {
			return nil, fmt.Errorf("struct %s: the methods tag belongs to the proxy mode; in the allowed mode hide methods with noproxy", tn)
		}
	case modePrefix:
		prefix = "RPC"
		if hasArg {
			prefix = strings.TrimSpace(modeArg)
			if r, _ := utf8.DecodeRuneInString(prefix); !unicode.IsUpper(r) {
				return nil, fmt.Errorf("struct %s: the prefix %q must start with an upper-case letter (only exported methods can be called)", tn, prefix)
			}
		}
		if hasMethods {
			return nil, fmt.Errorf("struct %s: the methods tag belongs to the proxy mode; in the prefix mode hide methods with noproxy", tn)
		}
	default:
		return nil, fmt.Errorf("struct %s: unknown mode %q in the wsrpc tag (use proxy, allowed or prefix)", tn, mode)
	}

	methods := map[string]reflect.Method{}
	for i := 0; i < pt.NumMethod(); i++ {
		m := pt.Method(i)
		methods[m.Name] = m
	}
	// build prepares a method; wire is the name calls use ("" for Init,
	// which the bare route name runs), so that errors of a call name the
	// route the caller called, kv.set, not the Go method.
	build := func(goName, wire string) (*method, error) {
		callName := name
		if wire != "" {
			callName = name + "." + wire
		}
		m, err := newMethod(callName, methods[goName].Func, true)
		if err != nil {
			return nil, fmt.Errorf("method %s.%s: %w", tn, goName, err)
		}
		return m, nil
	}

	if _, ok := methods["Init"]; ok {
		if sr.init, err = build("Init", ""); err != nil {
			return nil, err
		}
	}
	if _, ok := methods["OnClose"]; ok {
		if !pt.Implements(typeOnCloser) {
			return nil, fmt.Errorf("method %s.OnClose: it must be OnClose(ctx context.Context), the wsrpc.OnCloser hook", tn)
		}
		sr.onClose = true
	}

	// modeWire is the wire name a method has in this mode, "" if none.
	modeWire := func(goName string) string {
		if mode == modePrefix {
			rest, ok := strings.CutPrefix(goName, prefix)
			if !ok || rest == "" {
				return ""
			}
			return wireName(rest)
		}
		return wireName(goName)
	}

	noproxy := map[string]bool{}
	for _, n := range splitList(marker.Tag.Get("noproxy")) {
		if _, ok := methods[n]; !ok {
			return nil, fmt.Errorf("struct %s: noproxy lists %s, which is not an exported method of *%s", tn, n, tn)
		}
		if n == "Init" || n == "OnClose" {
			return nil, fmt.Errorf("struct %s: noproxy lists %s, which is never callable as a member anyway", tn, n)
		}
		noproxy[n] = true
		sr.masked[wireName(n)] = true
		if w := modeWire(n); w != "" {
			sr.masked[w] = true
		}
	}

	owner := map[string]string{} // wire name → Go name
	expose := func(goName, wire string) error {
		if prev, dup := owner[wire]; dup {
			return fmt.Errorf("struct %s: methods %s and %s both have the wire name %q; give one another name (methods:\"%s=other_name\")", tn, prev, goName, wire, goName)
		}
		owner[wire] = goName
		m, err := build(goName, wire)
		if err != nil {
			return err
		}
		if !sr.masked[wire] {
			sr.members[wire] = m
		}
		return nil
	}

	if mode == modeProxy {
		for _, item := range splitList(methodsTag) {
			goName, wire, renamed := strings.Cut(item, "=")
			goName, wire = strings.TrimSpace(goName), strings.TrimSpace(wire)
			if _, ok := methods[goName]; !ok {
				return nil, fmt.Errorf("struct %s: methods lists %s, which is not an exported method of *%s", tn, goName, tn)
			}
			if goName == "Init" || goName == "OnClose" || goName == "RouteDocs" {
				return nil, fmt.Errorf("struct %s: methods lists %s; Init runs through the bare route name, OnClose and RouteDocs are never callable", tn, goName)
			}
			if renamed && wire == "" {
				return nil, fmt.Errorf("struct %s: methods gives %s an empty wire name", tn, goName)
			}
			if !renamed {
				wire = wireName(goName)
			}
			if noproxy[goName] {
				sr.masked[wire] = true
				continue
			}
			if err := expose(goName, wire); err != nil {
				return nil, err
			}
		}
		return sr, sr.finish(owner, methods)
	}

	promoted := promotedMethods(st, pt)
	for i := 0; i < pt.NumMethod(); i++ {
		goName := pt.Method(i).Name
		if goName == "Init" || goName == "OnClose" || goName == "RouteDocs" || noproxy[goName] || promoted[goName] {
			continue
		}
		wire := modeWire(goName)
		if wire == "" {
			continue
		}
		if err := expose(goName, wire); err != nil {
			return nil, err
		}
	}
	return sr, sr.finish(owner, methods)
}

// finish completes a route whose members are chosen: owner maps the wire
// names to Go method names, methods are those of *T.
func (s *structRoute) finish(owner map[string]string, methods map[string]reflect.Method) error {
	s.fillFullNames()
	s.exposed = s.exposedHint()
	s.goNames = make(map[string]string, len(s.members))
	for w := range s.members {
		s.goNames[w] = owner[w]
	}
	d, ok := s.proto.Interface().(Documented)
	if !ok {
		return nil
	}
	s.docs = d.RouteDocs()
	for goName := range s.docs {
		if _, ok := methods[goName]; !ok {
			return fmt.Errorf("struct %s: RouteDocs documents %s, which is not an exported method of *%s", s.typeName, goName, s.typeName)
		}
	}
	return nil
}

// wireMember is an exposed member as a call names it: its method and its
// full name, "route.member".
type wireMember struct {
	name string
	m    *method
}

func (s *structRoute) fillFullNames() {
	s.full = make(map[string]wireMember, len(s.members))
	for w, m := range s.members {
		s.full[w] = wireMember{s.name + "." + w, m}
	}
}

// findMarker returns the embedded wsrpc.Route field of st.
func findMarker(st reflect.Type, tn string) (reflect.StructField, error) {
	for i := 0; i < st.NumField(); i++ {
		f := st.Field(i)
		if !f.Anonymous {
			continue
		}
		if f.Type == typeRoute {
			return f, nil
		}
		if f.Type == reflect.PointerTo(typeRoute) {
			return f, fmt.Errorf("struct %s: embed wsrpc.Route by value, not as *wsrpc.Route", tn)
		}
	}
	return reflect.StructField{}, fmt.Errorf("struct %s does not embed wsrpc.Route: add the field "+
		"wsrpc.Route `wsrpc:\"proxy\" methods:\"Get,Set\"` listing the methods to expose (see the Route documentation)", tn)
}

// promotedMethods returns the names of the methods of pt that come from
// embedded fields rather than being declared for the struct itself.
func promotedMethods(st, pt reflect.Type) map[string]bool {
	fromEmbedded := map[string]bool{}
	for i := 0; i < st.NumField(); i++ {
		f := st.Field(i)
		if !f.Anonymous || f.Type == typeRoute {
			continue
		}
		sets := []reflect.Type{f.Type}
		if f.Type.Kind() != reflect.Pointer && f.Type.Kind() != reflect.Interface {
			sets = append(sets, reflect.PointerTo(f.Type))
		}
		for _, t := range sets {
			for j := 0; j < t.NumMethod(); j++ {
				fromEmbedded[t.Method(j).Name] = true
			}
		}
	}
	out := map[string]bool{}
	for name := range fromEmbedded {
		if !declaredOn(st, pt, name) {
			out[name] = true
		}
	}
	return out
}

// declaredOn reports whether the method name (which an embedded field also
// provides) is declared on the struct itself, shadowing the promoted one.
// The compiler's wrappers for promoted methods (and for value methods called
// through a pointer) have no source position; a declared method has one, on
// T or on *T.
func declaredOn(st, pt reflect.Type, name string) bool {
	for _, t := range []reflect.Type{st, pt} {
		m, ok := t.MethodByName(name)
		if !ok {
			continue
		}
		f := runtime.FuncForPC(m.Func.Pointer())
		if f == nil {
			continue
		}
		if file, _ := f.FileLine(f.Entry()); file != "" && file != "<autogenerated>" {
			return true
		}
	}
	return false
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// newInstance returns a fresh per-connection instance: a pointer to a
// shallow copy of the value registered with Add.
func (s *structRoute) newInstance() reflect.Value {
	inst := reflect.New(s.proto.Type().Elem())
	inst.Elem().Set(s.proto.Elem())
	return inst
}

// member resolves a wire member name; "" (the bare route name) is Init.
// The errors name what was called and what the route does expose; their
// type and their first words are the reference's.
func (s *structRoute) member(name string) (*method, *Error) {
	if name == "" {
		if s.init == nil {
			return nil, &Error{Type: TypeNotImplemented, Message: "Method not implemented: " + s.name +
				" has no Init to run" + s.exposed}
		}
		return s.init, nil
	}
	if s.masked[name] {
		return nil, &Error{Type: TypeNotImplemented, Message: "Method masked: " + s.name + "." + name + " is not callable (noproxy)"}
	}
	if m := s.members[name]; m != nil {
		return m, nil
	}
	msg := "Method not implemented: " + s.name + "." + name + " is not exposed"
	switch {
	case strings.EqualFold(name, "init") && s.init != nil:
		msg += "; call " + s.name + " (the bare name) to run Init"
	default:
		for w := range s.members {
			if strings.EqualFold(w, name) {
				msg += "; did you mean " + s.name + "." + w + "?"
				break
			}
		}
	}
	return nil, &Error{Type: TypeNotImplemented, Message: msg + s.exposed}
}

// maxNamesListed bounds the members an error message lists.
const maxNamesListed = 10

// exposedHint lists the members of the route for an error message; finish
// keeps it in s.exposed, so that calls of what is not there (which a peer
// may send in a loop) do not sort the names again.
func (s *structRoute) exposedHint() string {
	if len(s.members) == 0 {
		return " (" + s.name + " exposes no members)"
	}
	names := make([]string, 0, len(s.members))
	for w := range s.members {
		names = append(names, s.name+"."+w)
	}
	sort.Strings(names)
	if len(names) > maxNamesListed {
		names = append(names[:maxNamesListed], "…")
	}
	return " (" + s.name + " exposes " + strings.Join(names, ", ") + ")"
}

// fullName returns "route.member" without allocating for exposed members,
// and the member's method when it is one (masked or not: see resolved),
// so that the call looks its member up once.
func (s *structRoute) fullName(member string) (string, *method) {
	if member == "" {
		return s.name, nil
	}
	if w, ok := s.full[member]; ok {
		return w.name, w.m
	}
	return s.name + "." + member, nil
}

// resolved is member(name) for a name fullName already found as m.
func (s *structRoute) resolved(name string, m *method) (*method, *Error) {
	if m != nil && !s.masked[name] {
		return m, nil
	}
	return s.member(name)
}

// initMethod returns the Init method, or nil when the struct has none.
func (s *structRoute) initMethod() *method { return s.init }

// closeInstance runs OnClose when the type implements OnCloser; a panic in
// it is recovered and returned as an error.
func (s *structRoute) closeInstance(ctx context.Context, inst reflect.Value) (err error) {
	if !s.onClose {
		return nil
	}
	c, ok := inst.Interface().(OnCloser)
	if !ok {
		return errors.New("wsrpc: instance of route " + s.name + " does not implement OnCloser")
	}
	defer func() {
		if p := recover(); p != nil {
			err = recovered(fmt.Sprintf("OnClose of route %q (%s)", s.name, s.typeName), p)
		}
	}()
	c.OnClose(ctx)
	return nil
}
