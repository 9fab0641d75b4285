// This file owns interceptors: the Invocation they see, the chains built
// once per side (Options.Interceptors) and per route (Intercept), and the
// points where the engine runs them for incoming calls, outgoing calls and
// events in both directions.

package wsrpc

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/mailru/easyjson/jwriter"
)

// Kind says what an interceptor sees: a call or an event, and which way it
// goes.
type Kind uint8

// The kinds of Invocation.
const (
	// KindCall is a call the peer makes into this side's routes.
	KindCall Kind = iota
	// KindOutgoingCall is a call this side makes with Conn.Call (or the
	// client's Call, which uses it).
	KindOutgoingCall
	// KindEvent is an event from the peer, on its way to Options.OnEvent.
	KindEvent
	// KindOutgoingEvent is an event this side sends with Conn.Emit.
	KindOutgoingEvent
)

// String returns "call", "outgoing_call", "event" or "outgoing_event".
func (k Kind) String() string {
	switch k {
	case KindCall:
		return "call"
	case KindOutgoingCall:
		return "outgoing_call"
	case KindEvent:
		return "event"
	case KindOutgoingEvent:
		return "outgoing_event"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Outgoing reports whether this side sends the call or event.
func (k Kind) Outgoing() bool { return k == KindOutgoingCall || k == KindOutgoingEvent }

// Invocation is one call or event as interceptors see it. Its byte slices
// alias buffers the engine reuses: they are valid until the interceptor
// returns; copy what you keep.
type Invocation struct {
	// Conn is the connection the call or event travels on.
	Conn *Conn
	// Kind says what this is and which way it goes.
	Kind Kind
	// Method is the method name: as the peer sent it (KindCall) or as
	// passed to Call (KindOutgoingCall); "" for events.
	Method string
	// Registered, for KindCall, reports whether Method names a route (and,
	// for a struct route, an exposed member) of the registry. A call that is
	// not registered still passes the side's interceptors, its next
	// answering NotImplementedError: metrics should label it with one fixed
	// value, so that a peer sending random names cannot grow their series.
	Registered bool
	// Keepalive, for KindCall, reports that the call is the peer's
	// keepalive ping answered by the built-in "ping" route of NewRegistry
	// (a route registered under that name in its place is not). A side's
	// own pings never pass its interceptors. The metrics and tracing
	// integrations skip these calls unless asked to count them: an idle
	// connection pinging every KeepaliveInterval is not doing work.
	Keepalive bool
	// ID is the call id on the wire: as sent by the peer (KindCall), or the
	// one this side chose, set once next sent the call (KindOutgoingCall).
	// Nil for events.
	ID json.RawMessage
	// Params is what the call or event carries. Incoming (KindCall,
	// KindEvent) it is a json.RawMessage: the call's params as sent (nil
	// when absent), or the whole event. Outgoing it is the value passed to
	// Call or Emit. An interceptor may replace it before calling next
	// (incoming, with a json.RawMessage).
	Params any
	// Result is the call's result. KindCall: once next returned nil, the
	// encoded result as a json.RawMessage. An interceptor that returns nil
	// without next succeeding answers the call itself with Result, encoded
	// like a handler's result (nil sends null). KindOutgoingCall: the result
	// pointer passed to Call, decoded into once next returned nil.
	Result any

	job    *callJob        // KindCall: the call
	w      *jwriter.Writer // KindCall: where the reply is written
	refuse *Error          // KindCall: the engine refuses the call with this
	wrote  bool            // KindCall: next wrote the whole reply to w
}

// Next continues an invocation: the next interceptor, or finally the
// engine (the route's handler, the write of an outgoing call or event, the
// OnEvent hook).
type Next func(ctx context.Context, inv *Invocation) error

// An Interceptor wraps calls and events. It runs code before and after next,
// may replace the context next receives (a tracing span, a value for the
// handler), may replace inv.Params, and may return without calling next:
// returning an error rejects the call, and the peer gets that error as its
// reply, exactly as if the handler had returned it (an *Error chooses the
// type and message). An error it returns from after next replaces the
// handler's, so it can mask internal errors.
//
// A panic in an interceptor is handled like a panic in a handler: logged at
// Error level with its stack; an incoming call gets a RuntimeError reply,
// an outgoing call or event returns an *Error of type RuntimeError, an
// incoming event is dropped.
//
// Interceptors of incoming calls run where the call's handler runs (a
// worker, or the read path for inline routes); those of calls the engine
// refuses before any handler (an unknown method, the limits, a draining
// connection) run in the read path: keep them quick, as for inline
// handlers.
type Interceptor func(ctx context.Context, inv *Invocation, next Next) error

// interceptedHandler marks a handler registered with Intercept.
type interceptedHandler struct {
	h   any
	ics []Interceptor
}

// Intercept wraps a route's handler (a func, a pointer to a struct route,
// or an Inline one) with interceptors of its own, which run for its calls
// inside the side's (Options.Interceptors), first listed outermost:
//
//	reg.MustAdd("admin.reset", wsrpc.Intercept(reset, requireAdmin))
//
// The chain is built once, when the route is added.
func Intercept(handler any, interceptors ...Interceptor) any {
	return interceptedHandler{h: handler, ics: interceptors}
}

// chain returns next wrapped in ics, the first outermost; nil entries are
// skipped. It is built once, never per call.
func chain(ics []Interceptor, next Next) Next {
	for i := len(ics) - 1; i >= 0; i-- {
		if ic, inner := ics[i], next; ic != nil {
			next = func(ctx context.Context, inv *Invocation) error { return ic(ctx, inv, inner) }
		}
	}
	return next
}

// orStep returns next, or handlerStep when next is nil.
func orStep(next Next) Next {
	if next == nil {
		return handlerStep
	}
	return next
}

// sideChains are a side's interceptors around each kind's final step,
// built once by Options.withDefaults when Interceptors is not empty.
type sideChains struct {
	call, outCall, event, outEvent Next
}

func newSideChains(ics []Interceptor) *sideChains {
	for _, ic := range ics {
		if ic != nil {
			return &sideChains{
				call:     chain(ics, routeStep),
				outCall:  chain(ics, outCallStep),
				event:    chain(ics, eventStep),
				outEvent: chain(ics, outEventStep),
			}
		}
	}
	return nil
}

// routeIntercept returns the interceptors of j's route, nil for none.
func (j *callJob) routeIntercept() Next {
	if j.fr != nil {
		return j.fr.intercept
	}
	if j.inst != nil {
		return j.inst.route.intercept
	}
	return nil
}

// keepalive reports whether j is a call of the built-in ping route: the
// one place that tells a peer's keepalive from a call.
func (j *callJob) keepalive() bool { return j.fr == pingRoute }

// routeStep follows the side's interceptors of an incoming call: the
// route's own, then the handler.
func routeStep(ctx context.Context, inv *Invocation) error {
	if inv.refuse == nil {
		if next := inv.job.routeIntercept(); next != nil {
			return next(ctx, inv)
		}
	}
	return handlerStep(ctx, inv)
}

// sameBytes reports whether a and b are the same slice of memory.
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// handlerStep runs the handler of an incoming call, writing its reply.
func handlerStep(ctx context.Context, inv *Invocation) error {
	if inv.refuse != nil {
		return inv.refuse
	}
	j, w := inv.job, inv.w
	if p, ok := inv.Params.(json.RawMessage); ok {
		// The decoders take the params as the frame scan checked them:
		// params an interceptor put there are checked here.
		if !sameBytes(p, j.params) {
			if len(p) > 0 && !validJSON(p) {
				return &Error{Type: TypeTypeError, Message: "params set by an interceptor are not valid JSON"}
			}
			j.members.ok = false // they were the frame's params'
		}
		j.params = p
	}
	buf := w.Buffer.Buf[:0] // next may run again (an interceptor that retries)
	*w = jwriter.Writer{}
	w.Buffer.Buf = buf
	if err := inv.Conn.execute(ctx, j, w); err != nil {
		return err
	}
	reply, _ := w.BuildBytes()
	*w = jwriter.Writer{}
	w.Buffer.Buf = reply
	inv.Result = json.RawMessage(resultOf(reply))
	inv.wrote = true
	return nil
}

func outCallStep(ctx context.Context, inv *Invocation) error {
	return inv.Conn.call(ctx, inv.Method, inv.Params, inv.Result, inv)
}

func eventStep(_ context.Context, inv *Invocation) error {
	if fn := inv.Conn.opts.OnEvent; fn != nil {
		defer inv.Conn.recoverHook("OnEvent")
		ev, _ := inv.Params.(json.RawMessage)
		fn(inv.Conn, ev)
	}
	return nil
}

func outEventStep(ctx context.Context, inv *Invocation) error {
	return inv.Conn.emit(ctx, inv.Params)
}

// intercepted runs the incoming call j through the interceptors and writes
// its reply (or returns the error to reply with).
func (c *Conn) intercepted(ctx context.Context, j *callJob, w *jwriter.Writer) (err error) {
	inv := &Invocation{Conn: c, Kind: KindCall, Method: j.method, Registered: true, Keepalive: j.keepalive(), ID: j.id, job: j, w: w}
	if j.params != nil {
		inv.Params = json.RawMessage(j.params)
	}
	next := routeStep
	if ch := c.opts.chains; ch != nil {
		next = ch.call
	}
	if err := c.runChain(ctx, next, inv); err != nil {
		return err
	}
	if !inv.wrote {
		// An interceptor answered the call itself.
		*w = jwriter.Writer{}
		w.RawString(`{"id":`)
		w.Raw(j.id, nil)
		w.RawString(`,"result":`)
		if err := appendJSON(w, inv.Result); err != nil {
			return &Error{Type: TypeValueError, Message: "Can not serialize result: " + err.Error()}
		}
		w.RawByte('}')
	}
	return nil
}

// runChain runs next, turning a panic into a *panicError (logged).
func (c *Conn) runChain(ctx context.Context, next Next, inv *Invocation) (err error) {
	defer func() {
		if p := recover(); p != nil {
			pe := recovered(inv.interceptorName(), p)
			pe.log(c)
			err = pe
		}
	}()
	return next(ctx, inv)
}

// interceptorName names the interceptors of inv in logs and error replies,
// e.g. `an interceptor of "kv.get"`.
func (inv *Invocation) interceptorName() string {
	what := "an interceptor of "
	if inv.Kind != KindCall {
		what += inv.Kind.String()
		if inv.Method != "" {
			what += " "
		}
	}
	if inv.Method != "" {
		what += strconv.Quote(inv.Method)
	}
	return what
}

// refuseCall answers j with an error reply of typ and message, after the
// side's interceptors (which may change the answer) saw it.
func (c *Conn) refuseCall(j *callJob, typ, message string) {
	ch := c.opts.chains
	if ch == nil {
		c.replyErrorAsync(j.id, typ, message)
		return
	}
	inv := &Invocation{Conn: c, Kind: KindCall, Method: j.method, Keepalive: j.keepalive(), ID: j.id, refuse: &Error{Type: typ, Message: message}}
	if j.fr != nil || (j.inst != nil && typ != TypeNotImplemented) {
		inv.Registered = true
	}
	if j.params != nil {
		inv.Params = json.RawMessage(j.params)
	}
	err := c.runChain(connContext{c}, ch.call, inv)
	if err == nil {
		var w jwriter.Writer
		w.RawString(`{"id":`)
		w.Raw(j.id, nil)
		w.RawString(`,"result":`)
		if err = appendJSON(&w, inv.Result); err == nil {
			w.RawByte('}')
			msg, _ := w.BuildBytes()
			_ = c.send(msg, true)
			return
		}
		err = &Error{Type: TypeValueError, Message: "Can not serialize result: " + err.Error()}
	}
	typ, message = errorTypeMessage(err)
	c.replyErrorAsync(j.id, typ, message)
}

// runOutgoing runs an outgoing call or event, or an incoming event, through
// the side's interceptors; a panic becomes a RuntimeError.
func (c *Conn) runOutgoing(ctx context.Context, next Next, inv *Invocation) error {
	err := c.runChain(ctx, next, inv)
	if _, ok := err.(*panicError); ok {
		return &Error{Type: TypeRuntimeError, Message: "internal error in " + inv.interceptorName() + ": it panicked (the details are in the log)"}
	}
	return err
}

// setCallID records the id chosen for an outgoing call on inv.
func (inv *Invocation) setCallID(id int64) {
	if inv != nil {
		inv.ID = strconv.AppendInt(nil, id, 10)
	}
}
