package wsrpc

import (
	"context"
	"fmt"
	"reflect"

	"github.com/mailru/easyjson/jwriter"
)

// funcRoute is a function registered under a name; it is called by exactly
// that name (which may contain dots).
type funcRoute struct {
	name      string
	m         *method
	inline    inlineState // on: registered through Inline, and not demoted (see Options.InlineBudget)
	intercept Next        // the route's interceptors (see Intercept); nil for none
	doc       routeDoc    // from Doc, for Registry.Routes
}

// inlineHandler marks a function route registered with Inline.
type inlineHandler struct{ fn any }

// Inline marks a function handler that never blocks (no I/O, no calls to the
// peer, no waiting on locks held elsewhere): the engine may run it in the
// connection's read path (while no further input of that connection is
// handled), with no hand-off, and write all
// replies of one read in one write. A call to the peer from an inline
// handler fails at once. Use it for cheap handlers on hot paths:
//
//	reg.MustAdd("subtract", wsrpc.Inline(subtract))
//
// On the server's netpoll engine the read path is a poller, which serves
// many connections: while an inline handler runs, none of them is read. So
// an inline route that turns out slow is demoted: once two of its calls in
// a row ran longer than Options.InlineBudget (default 1 ms), its calls run
// on workers like any other route's, on every connection, and a warning is
// logged; a read whose messages ran past the budget hands the rest of them
// to a worker. A slow inline route thus stalls a poller twice at most:
// bound what its params may cost (the introduction's subtract refuses
// integers over 4300 digits, as the reference does).
//
// An inline call is over when its handler returns: the handler (and, for a
// struct route with the inline flag, its Init) must not keep its context or
// use it from another goroutine afterwards, since the engine reuses it.
func Inline(fn any) any { return inlineHandler{fn} }

func newFuncRoute(name string, fn reflect.Value) (*funcRoute, error) {
	m, err := newMethod(name, fn, false)
	if err != nil {
		return nil, fmt.Errorf("func %s: %w", name, err)
	}
	return &funcRoute{name: name, m: m}, nil
}

// pingRoute is the built-in "ping" every registry starts with: it echoes a
// params object verbatim (the keepalive of docs/protocol.md §9 depends on it), and
// answers {} when params are absent or null.
var pingRoute = &funcRoute{name: "ping", m: &method{name: "ping", call: callPing}}

func callPing(_ context.Context, _ receiver, params []byte, out *jwriter.Writer) error {
	params = trimJSONSpace(params)
	switch shapeOf(params) {
	case shapeAbsent:
		out.RawString("{}")
	case shapeObject:
		// The frame scanner checked the object as strictly as
		// encoding/json.Valid: it is echoed as it came.
		out.Raw(params, nil)
	default:
		return typeErrorf("ping() takes keyword arguments only")
	}
	return nil
}
