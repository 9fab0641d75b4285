package wsrpc

import (
	"context"
	"fmt"
	"reflect"
	"strings"
)

// Route is the marker a struct embeds to become a struct route. The tag on
// the embedded field says which methods the peer may call:
//
//	type Storage struct {
//		wsrpc.Route `wsrpc:"proxy" methods:"Get,Set"` // only Get and Set: "kv.get", "kv.set"
//		data map[string]any
//	}
//
//	type Admin struct {
//		wsrpc.Route `wsrpc:"allowed" noproxy:"Shutdown"` // every exported method but Shutdown
//	}
//
//	type Legacy struct {
//		wsrpc.Route `wsrpc:"prefix"` // methods named RPCName, called as "name"; `wsrpc:"prefix=Do"` for DoName
//	}
//
// In methods, "Name=wire" overrides a wire name. Names in noproxy always
// answer "Method masked". Add ",concurrent" to the wsrpc tag
// (`wsrpc:"proxy,concurrent"`) to let calls on one instance run at once;
// by default they run one at a time, in arrival order.
type Route struct{}

// OnCloser is implemented by struct routes that want to know when their
// connection closes: OnClose runs once per instance, after the instance's
// running calls returned. It is never callable from the wire.
type OnCloser interface {
	OnClose(ctx context.Context)
}

var typeRoute = reflect.TypeFor[Route]()

// structRoute is a registered struct type with its method tables.
type structRoute struct {
	name       string
	proto      reflect.Value // the registered *T
	concurrent bool
	init       *method
	exposed    map[string]*method // wire name → method
	masked     map[string]bool    // wire names that answer "Method masked"
	onClose    bool
}

var (
	errMasked         = &Error{Type: TypeNotImplemented, Message: "Method masked"}
	errNotImplemented = &Error{Type: TypeNotImplemented, Message: "Method not implemented"}
)

// exposure modes of the wsrpc tag.
const (
	modeProxy   = "proxy"
	modeAllowed = "allowed"
	modePrefix  = "prefix"
)

func newStructRoute(name string, v reflect.Value) (*structRoute, error) {
	pt := v.Type()
	st := pt.Elem()
	marker, ok := markerField(st)
	if !ok {
		return nil, fmt.Errorf("struct %s does not embed wsrpc.Route: add a field `wsrpc.Route `wsrpc:\"proxy\" methods:\"Get,Set\"`` that lists the methods to expose", st.Name())
	}
	modeTag, flags, _ := strings.Cut(marker.Tag.Get("wsrpc"), ",")
	mode, prefix, _ := strings.Cut(modeTag, "=")
	if mode == "" {
		mode = modeProxy
	}
	sr := &structRoute{
		name:    name,
		proto:   v,
		exposed: make(map[string]*method),
		masked:  map[string]bool{"init": true, "on_close": true},
	}
	for _, f := range splitList(flags) {
		switch f {
		case "concurrent":
			sr.concurrent = true
		default:
			return nil, fmt.Errorf("struct %s: unknown flag %q in the wsrpc tag (known: concurrent)", st.Name(), f)
		}
	}
	sr.onClose = pt.Implements(reflect.TypeFor[OnCloser]())
	methodSig := func(m reflect.Method) (*method, error) {
		s, err := analyse(st.Name()+"."+m.Name, m.Func, m.Type, true)
		if err != nil {
			return nil, fmt.Errorf("method %w", err)
		}
		return methodOf(s), nil
	}
	if m, ok := pt.MethodByName("Init"); ok {
		im, err := methodSig(m)
		if err != nil {
			return nil, err
		}
		sr.init = im
	}
	promoted := promotedMethods(st)
	noproxy := map[string]bool{}
	for _, n := range splitList(marker.Tag.Get("noproxy")) {
		if _, ok := pt.MethodByName(n); !ok {
			return nil, fmt.Errorf("struct %s: noproxy names %s, which is not an exported method of *%s", st.Name(), n, st.Name())
		}
		noproxy[n] = true
	}
	add := func(goName, wire string) error {
		m, _ := pt.MethodByName(goName)
		if noproxy[goName] {
			sr.masked[wire] = true
			return nil
		}
		if sr.masked[wire] && (wire == "init" || wire == "on_close") {
			return nil
		}
		if _, dup := sr.exposed[wire]; dup {
			return fmt.Errorf("struct %s: two methods are called %q on the wire; rename one with methods:\"%s=other_name\"", st.Name(), wire, goName)
		}
		mm, err := methodSig(m)
		if err != nil {
			return err
		}
		sr.exposed[wire] = mm
		return nil
	}
	switch mode {
	case modeProxy:
		if prefix != "" {
			return nil, fmt.Errorf("struct %s: the proxy mode takes no value", st.Name())
		}
		list := splitList(marker.Tag.Get("methods"))
		if len(list) == 0 {
			return nil, fmt.Errorf("struct %s: `wsrpc:\"proxy\"` needs a methods:\"A,B\" tag listing the methods to expose", st.Name())
		}
		for _, item := range list {
			goName, wire, _ := strings.Cut(item, "=")
			m, ok := pt.MethodByName(goName)
			if !ok || m.Name == "" {
				return nil, fmt.Errorf("struct %s: methods lists %s, which is not an exported method of *%s", st.Name(), goName, st.Name())
			}
			if goName == "Init" || goName == "OnClose" {
				return nil, fmt.Errorf("struct %s: %s cannot be listed in methods (Init is called through the bare route name; OnClose never)", st.Name(), goName)
			}
			if wire == "" {
				wire = wireName(goName)
			}
			if err := add(goName, wire); err != nil {
				return nil, err
			}
		}
		for n := range noproxy {
			sr.masked[wireName(n)] = true
		}
	case modeAllowed, modePrefix:
		if mode == modeAllowed && prefix != "" {
			return nil, fmt.Errorf("struct %s: the allowed mode takes no value", st.Name())
		}
		if mode == modePrefix && prefix == "" {
			prefix = "RPC"
		}
		for i := 0; i < pt.NumMethod(); i++ {
			m := pt.Method(i)
			if m.Name == "Init" || m.Name == "OnClose" || promoted[m.Name] {
				continue
			}
			wire := wireName(m.Name)
			if mode == modePrefix {
				rest, ok := strings.CutPrefix(m.Name, prefix)
				if !ok || rest == "" {
					continue
				}
				wire = wireName(rest)
			}
			if err := add(m.Name, wire); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("struct %s: unknown mode %q in the wsrpc tag (use proxy, allowed or prefix)", st.Name(), mode)
	}
	return sr, nil
}

// markerField finds the embedded wsrpc.Route field.
func markerField(st reflect.Type) (reflect.StructField, bool) {
	for i := 0; i < st.NumField(); i++ {
		f := st.Field(i)
		if f.Anonymous && f.Type == typeRoute {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// promotedMethods are the methods a struct gets from its embedded fields:
// they are not its own, so the allowed and prefix modes do not expose them.
func promotedMethods(st reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := 0; i < st.NumField(); i++ {
		f := st.Field(i)
		if !f.Anonymous {
			continue
		}
		for _, t := range []reflect.Type{f.Type, reflect.PointerTo(f.Type)} {
			for j := 0; j < t.NumMethod(); j++ {
				out[t.Method(j).Name] = true
			}
		}
	}
	return out
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

// newInstance returns a connection's instance: a pointer to a shallow copy of
// the registered value, so a prototype can carry dependencies.
func (s *structRoute) newInstance() reflect.Value {
	inst := reflect.New(s.proto.Type().Elem())
	inst.Elem().Set(s.proto.Elem())
	return inst
}

// member resolves a wire member name; "" is the bare route name (Init).
func (s *structRoute) member(name string) (*method, *Error) {
	if name == "" {
		if s.init == nil {
			return nil, errNotImplemented
		}
		return s.init, nil
	}
	if s.masked[name] {
		return nil, errMasked
	}
	if m := s.exposed[name]; m != nil {
		return m, nil
	}
	return nil, errNotImplemented
}

// initMethod returns Init, or nil when the struct has none.
func (s *structRoute) initMethod() *method { return s.init }

// closeInstance runs the instance's OnClose hook, if it has one.
func (s *structRoute) closeInstance(ctx context.Context, inst reflect.Value) (err error) {
	if !s.onClose {
		return nil
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("OnClose of route %q panicked: %v", s.name, p)
		}
	}()
	inst.Interface().(OnCloser).OnClose(ctx)
	return nil
}
