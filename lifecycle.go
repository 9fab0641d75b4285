// This file owns the lifecycle of a connection: Start, the hooks and their
// runners, Drain, and closing (Close, HandleClose, Done, Err).

package wsrpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/wsrpc/wsrpc-go/internal/safely"
)

// Hooks observe the life of connections and calls: the Go form of the Python
// reference's signals. Every field is optional. Hooks run synchronously on the
// goroutine that reached that point: a worker or the connection's own
// goroutine, never a netpoll poller (but OnMessage for a received message,
// which runs where messages are read), so a slow hook delays only its own
// connection. A panic in a hook is recovered and logged at Error level with
// its stack (Options.Logger); the connection goes on. A panicking request hook
// (OnOpen, OnAuthSuccess, OnAuthFail, OnUpgradeFail), like a panicking
// Authorize or CheckOrigin, answers that upgrade request HTTP 500.
//
// The connection hooks fire in the order OnOpen → OnAuthSuccess or OnAuthFail →
// (OnUpgradeFail) → OnConnect → OnClose. The call hooks fire OnCallStart →
// OnCallSuccess or OnCallFail for calls the peer makes into this side's routes.
// OnCallStart fires before the route is resolved; a call to an unknown route or
// an unexposed member gets an error reply without OnCallFail, as in the
// reference.
type Hooks struct {
	// OnOpen runs on the server when an upgrade request arrives, before
	// authorization.
	OnOpen func(r *http.Request)
	// OnAuthSuccess and OnAuthFail run on the server after its Authorize hook.
	OnAuthSuccess func(r *http.Request)
	OnAuthFail    func(r *http.Request)
	// OnUpgradeFail runs on the server when the WebSocket handshake fails.
	OnUpgradeFail func(r *http.Request, err error)
	// OnConnect runs once per connection on both sides, the place to log
	// in, subscribe or refuse. ctx is the connection's context: it carries
	// c (ConnFromContext) and ends when c closes. An error closes c, and is
	// what c.Err and OnClose report, wrapped with ErrConnectRefused.
	//
	// On the server it runs once the connection is registered, before its
	// first message is read: a call it makes to the client is only answered
	// after it returns, so make such calls from a goroutine it starts.
	//
	// Its error closes the connection with CloseConnectRefused (1011) on
	// either side. The error's text is not sent to the peer: Conn.Err and
	// OnClose have it, and it is logged at Debug.
	//
	// On the client it runs after every successful connection, the first
	// one and each reconnect, once the connection is read, before calls
	// waiting for the connection proceed, so it may call the server; ctx is
	// then Dial's context (the client's own on a reconnect). Its error fails
	// that connection attempt: Dial returns it, and with Reconnect another
	// attempt follows.
	//
	// A panic in it is logged and the connection goes on, as for the other
	// hooks.
	OnConnect func(ctx context.Context, c *Conn) error
	// OnClose runs once when the connection ends, with the reason (nil for a
	// clean close by this side). On the server it has run by the time the
	// peer's close handshake completes.
	OnClose func(c *Conn, err error)

	// OnCallStart runs when an incoming call starts.
	OnCallStart func(ctx context.Context, call *CallInfo)
	// OnCallSuccess runs after the handler returned, before the reply is sent;
	// result is the encoded JSON result.
	OnCallSuccess func(ctx context.Context, call *CallInfo, result json.RawMessage)
	// OnCallFail runs when the handler returned an error or panicked.
	OnCallFail func(ctx context.Context, call *CallInfo, err error)

	// OnMessage sees every text message of the connection: each received
	// one (sent false) before it is handled, on the reader (keep it quick:
	// under netpoll that is a poller), and each sent one (sent true) once
	// the transport wrote it. msg is the message's payload, before any
	// compression, valid only during the call. Metrics count messages and
	// bytes with it.
	OnMessage func(c *Conn, sent bool, msg []byte)
}

// CallInfo describes an incoming call for the call hooks. Its slices are only
// valid during the hook: copy what you keep.
type CallInfo struct {
	Conn   *Conn
	Method string          // the method name as sent, e.g. "kv.get"
	ID     json.RawMessage // the call id as sent
	Params json.RawMessage // the params as sent; nil when absent
}

func (c *Conn) hookCallStart(ctx context.Context, ci *CallInfo) {
	if h := c.opts.Hooks; h != nil && h.OnCallStart != nil {
		defer c.recoverHook("OnCallStart")
		h.OnCallStart(ctx, ci)
	}
}

func (c *Conn) hookCallSuccess(ctx context.Context, ci *CallInfo, result []byte) {
	if h := c.opts.Hooks; h != nil && h.OnCallSuccess != nil {
		defer c.recoverHook("OnCallSuccess")
		h.OnCallSuccess(ctx, ci, result)
	}
}

func (c *Conn) hookCallFail(ctx context.Context, ci *CallInfo, err error) {
	if h := c.opts.Hooks; h != nil && h.OnCallFail != nil {
		defer c.recoverHook("OnCallFail")
		h.OnCallFail(ctx, ci, err)
	}
}

func (c *Conn) hookMessage(fn func(*Conn, bool, []byte), sent bool, msg []byte) {
	defer c.recoverHook("OnMessage")
	fn(c, sent, msg)
}

// hookConnect runs OnConnect with the connection's context; a panic is
// logged and counts as success.
func (c *Conn) hookConnect() (err error) {
	if h := c.opts.Hooks; h != nil && h.OnConnect != nil {
		defer c.recoverHook("OnConnect")
		err = h.OnConnect(connContext{c}, c)
	}
	return err
}

func (c *Conn) hookClose(err error) {
	if h := c.opts.Hooks; h != nil && h.OnClose != nil {
		defer c.recoverHook("OnClose")
		h.OnClose(c, err)
	}
}

func (c *Conn) recoverHook(name string) {
	if p := recover(); p != nil {
		safely.Log(c.opts.Logger, name, c.ID(), p, debug.Stack())
	}
}

// onEvent hands an event to Options.OnEvent, through the interceptors,
// recovering a panic.
func (c *Conn) onEvent(msg []byte) {
	if ch := c.opts.chains; ch != nil {
		_ = c.runOutgoing(connContext{c}, ch.event, &Invocation{Conn: c, Kind: KindEvent, Params: json.RawMessage(msg)})
		return
	}
	defer c.recoverHook("OnEvent")
	c.opts.OnEvent(c, json.RawMessage(msg))
}

// panicError is a recovered panic of user code (a handler, Init, OnClose).
// Its message names the code and the panic value, for the log; the stack
// is kept for the log too. Neither ever reaches the peer: see panicReply.
type panicError struct {
	what  string
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("%s panicked: %v", e.what, e.value) }

// recovered wraps the panic value p of what; call it from the deferred
// function that recovered, so that the stack is the panic's.
func recovered(what string, p any) *panicError {
	return &panicError{what: what, value: p, stack: debug.Stack()}
}

// log logs the panic with its stack.
func (e *panicError) log(c *Conn) { safely.Log(c.opts.Logger, e.what, c.ID(), e.value, e.stack) }

// panicReply is the message a peer gets for a call whose handler (or Init)
// panicked; what names the route. The panic's value and stack stay in the
// log of the side that ran it, since they may hold anything (paths, data of
// other calls, secrets).
func panicReply(what string) string {
	return "internal error in " + what + ": the handler panicked (the details are in the log of the side that ran it)"
}

// Start runs the OnConnect hook and starts keepalive (unless
// KeepaliveInterval is negative) and the IdleTimeout. Call it once, after
// the connection is registered and before the first HandleMessage. When
// OnConnect returns an error, Start closes the connection with
// CloseConnectRefused and returns that error wrapped with
// ErrConnectRefused; the transport's reader then ends as for any close.
func (c *Conn) Start() error {
	c.logOpen()
	if err := c.hookConnect(); err != nil {
		err = fmt.Errorf("%w: %w", ErrConnectRefused, err)
		c.opts.Logger.Debug("wsrpc: OnConnect refused the connection", "conn", c.logID(), "err", err)
		c.closeWith(err, CloseConnectRefused, "refused by the OnConnect hook")
		return err
	}
	if is := c.idleState(); is != nil {
		is.lastActive.Store(time.Now().UnixNano())
		c.mu.Lock()
		if !c.closed {
			is.timer = time.AfterFunc(c.opts.IdleTimeout, c.idleCheck)
		}
		c.mu.Unlock()
	}
	if c.opts.KeepaliveInterval > 0 {
		c.mu.Lock()
		if !c.closed {
			c.kaOn = true
			// The first ping leaves at once, from the scheduler's goroutine:
			// not the caller's, which may be a reader whose stack should
			// stay small.
			c.pool.keepalive.schedule(c, 0)
		}
		c.mu.Unlock()
	}
	return nil
}

// Done is closed when the connection has closed, its handlers have returned
// and its struct routes' OnClose hooks have run.
func (c *Conn) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	sig := c.signalsLocked()
	if sig.done == nil {
		sig.done = make(chan struct{})
		if c.finished {
			close(sig.done) // asked for after the end
		}
	}
	return sig.done
}

// Err returns why the connection closed (matching ErrClosed), or nil while it
// is open.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		return nil
	}
	return c.closedErrLocked()
}

func (c *Conn) closedErrLocked() error {
	if c.life.sig == nil || c.life.sig.closeErr == nil {
		return ErrClosed
	}
	return fmt.Errorf("%w: %w", ErrClosed, c.life.sig.closeErr)
}

// Close closes the connection with close code 1000. Pending outgoing calls
// fail with ErrClosed and running handlers see their context cancelled.
func (c *Conn) Close() error {
	c.closeWith(nil, closeNormal, "")
	return nil
}

// CloseWithError closes the connection with the given WebSocket close code
// and reason; cause (may be nil) is what Err and the OnClose hook report.
func (c *Conn) CloseWithError(code int, reason string, cause error) error {
	c.closeWith(cause, code, reason)
	return nil
}

// Drain stops accepting new incoming calls (each gets a RuntimeError reply)
// and waits until every running and queued call has been answered and the
// replies written, or ctx ends. Outgoing calls keep working meanwhile. The
// server's Shutdown drains every connection before closing it.
func (c *Conn) Drain(ctx context.Context) error {
	c.mu.Lock()
	c.sched.draining = true
	c.mu.Unlock()
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		c.mu.Lock()
		idle := c.sched.running == 0 && !c.sched.waiting.queued() || c.closed
		c.mu.Unlock()
		if idle {
			c.out.mu.Lock()
			idle = !c.flushing && c.queued() == 0
			c.out.mu.Unlock()
		}
		if idle {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// HandleClose tells the engine that the transport has ended (the peer closed,
// the stream broke, or the transport's reader failed). err is the cause; nil
// for a clean close.
func (c *Conn) HandleClose(err error) {
	c.closeWith(err, closeNormal, "")
}

func (c *Conn) closeWith(cause error, code int, reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	if cause != nil {
		c.signalsLocked().closeErr = cause
	}
	pending := c.calls.pending
	c.calls.pending = nil
	c.sched.waiting = nil
	instances := c.instances
	closedErr := c.closedErrLocked()
	if c.kaOn {
		c.kaOn = false
		c.pool.keepalive.cancel(c)
	}
	if is := c.idleState(); is != nil && is.timer != nil {
		is.timer.Stop()
	}
	c.mu.Unlock()

	// Stop writing before cancelling the handlers: a cancelled call gets no
	// reply, as in the reference.
	c.out.mu.Lock()
	c.wclosed = true
	c.out.sb = nil
	c.out.mu.Unlock()
	c.cancelContext()
	for _, p := range pending {
		p.complete(nil, closedErr)
	}
	c.hookClose(cause)
	c.logClose(cause)
	if err := c.t.Close(code, reason); err != nil {
		c.opts.Logger.Debug("wsrpc: transport close", "conn", c.logID(), "err", err)
	}

	go func() {
		c.waitStartedCalls()
		hookCtx := context.WithoutCancel(connContext{c})
		for inst := instances; inst != nil; inst = inst.next {
			if err := inst.route.closeInstance(hookCtx, inst.val()); err != nil {
				var pe *panicError
				if errors.As(err, &pe) {
					pe.log(c)
				} else {
					c.opts.Logger.Error("wsrpc: OnClose failed", "conn", c.logID(), "route", inst.route.name, "err", err)
				}
			}
		}
		c.mu.Lock()
		c.finished = true
		if c.life.sig != nil && c.life.sig.done != nil {
			close(c.life.sig.done)
		}
		c.mu.Unlock()
	}()
}

// waitStartedCalls returns once every call given a goroutine has finished
// (see finish). Only a closed connection waits: it starts no new calls.
func (c *Conn) waitStartedCalls() {
	c.mu.Lock()
	if c.sched.started == 0 {
		c.mu.Unlock()
		return
	}
	done := make(chan struct{})
	c.signalsLocked().handlersDone = done
	c.mu.Unlock()
	<-done
}
