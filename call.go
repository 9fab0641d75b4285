// This file owns outgoing calls: the pending table, Call and its typed
// helpers, the replies that complete them, and Emit.

package wsrpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mailru/easyjson"
	"github.com/mailru/easyjson/jlexer"
	"github.com/mailru/easyjson/jwriter"
)

// Caller is what can make a call to the remote side: *Conn, and the client
// package's reconnecting *Client.
type Caller interface {
	Call(ctx context.Context, method string, params, result any) error
}

type pendingCall struct {
	done   chan struct{}
	target any
	err    error
	// onReply, when set, is called on the reader's goroutine instead of
	// decoding into target (used by keepalive).
	onReply func(result []byte, err error)
	// fan, when set, collects the reply for CallAll (fanout.go), as the
	// idx-th of its connections; done is then nil.
	fan *fanCall
	idx int32
}

func (p *pendingCall) complete(result []byte, err error) {
	if p.onReply != nil {
		p.onReply(result, err)
		return
	}
	if p.fan != nil {
		p.completeFan(result, err)
		return
	}
	if err == nil && p.target != nil {
		err = decodeResult(result, p.target)
	}
	p.err = err
	close(p.done)
}

// Call calls method on the peer with params and decodes the result into
// result (a pointer; nil to discard it). params may be nil (no params), a
// struct or map (named params), a slice (positional params), or raw JSON
// (json.RawMessage, easyjson.RawMessage).
//
// It returns when the reply arrives, ctx ends (the call is forgotten; the
// peer is not told), or the connection closes (an error matching ErrClosed).
// An error reply from the peer is returned as an *Error.
//
// Inside a struct-route handler, the route instance is released while Call
// waits, so the peer may call into the same route meanwhile without a
// deadlock; fields may therefore change across a Call.
func (c *Conn) Call(ctx context.Context, method string, params, result any) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if ch := c.opts.chains; ch != nil {
		inv := &Invocation{Conn: c, Kind: KindOutgoingCall, Method: method, Params: params, Result: result}
		return c.runOutgoing(ctx, ch.outCall, inv)
	}
	return c.call(ctx, method, params, result, nil)
}

// call is Call past the interceptors; inv, when not nil, is told the id.
func (c *Conn) call(ctx context.Context, method string, params, result any, inv *Invocation) error {
	if c.opts.CallTimeout > 0 {
		if _, has := ctx.Deadline(); !has {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, c.opts.CallTimeout)
			defer cancel()
		}
	}
	p := &pendingCall{done: make(chan struct{}), target: result}
	// A call bounded by its context does not write on its own goroutine: a
	// peer that stops reading must not hold it past its bound (the write
	// itself stays bounded by the transport's write timeout).
	id, err := c.startCall(method, params, p, ctx.Done() != nil)
	if err != nil {
		return err
	}
	inv.setCallID(id)
	if j, _ := ctx.Value(jobCtxKey{}).(*callJob); j != nil && j.c == c {
		if j.inline {
			return ErrInlineCall
		}
		c.mu.Lock()
		held := j.holding
		c.releaseLocked(j, false) // nil: keeps nothing
		c.mu.Unlock()
		if held {
			defer c.reacquire(j)
		}
	}
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		c.mu.Lock()
		_, mine := c.calls.pending[id]
		delete(c.calls.pending, id)
		c.mu.Unlock()
		if !mine {
			// The reply (or the close) won the race and is completing p.
			<-p.done
			return p.err
		}
		return ctx.Err()
	}
}

// startCall registers p under a fresh id and sends the call; with async,
// the write happens on another goroutine.
func (c *Conn) startCall(method string, params any, p *pendingCall, async bool) (int64, error) {
	id := c.calls.nextID.Add(2)
	var w jwriter.Writer
	w.RawString(`{"id":`)
	w.Int64(id)
	w.RawString(`,"method":`)
	w.String(method)
	if params != nil {
		w.RawString(`,"params":`)
		if err := appendJSON(&w, params); err != nil {
			return 0, fmt.Errorf("wsrpc: encode params of %q: %w", method, err)
		}
	}
	w.RawByte('}')
	msg, _ := w.BuildBytes()

	c.mu.Lock()
	if c.closed {
		err := c.closedErrLocked()
		c.mu.Unlock()
		return 0, err
	}
	if c.calls.pending == nil {
		c.calls.pending = make(map[int64]*pendingCall)
	}
	c.calls.pending[id] = p
	c.mu.Unlock()
	if err := c.send(msg, async || p.onReply != nil); err != nil {
		c.mu.Lock()
		delete(c.calls.pending, id)
		c.mu.Unlock()
		return 0, err
	}
	return id, nil
}

func (c *Conn) handleReply(f *frame) {
	key, fits, ok := parseID(f.ID)
	if !ok || !fits {
		c.opts.Logger.Debug("wsrpc: dropped a reply with an unusable id", "conn", c.logID(), "id", string(f.ID))
		return
	}
	c.mu.Lock()
	if c.kaWaiting && key == c.ka.id {
		c.mu.Unlock()
		c.onPong(f.Error != nil)
		return
	}
	p := c.calls.pending[key]
	delete(c.calls.pending, key)
	if len(c.calls.pending) == 0 {
		c.calls.pending = nil // an idle connection keeps no map
	}
	c.mu.Unlock()
	if p == nil {
		c.opts.Logger.Debug("wsrpc: dropped a reply to no pending call", "conn", c.logID(), "id", key)
		return
	}
	if f.Error != nil {
		p.complete(nil, remoteError(f.Error))
		return
	}
	res := []byte(f.Result)
	if res == nil {
		res = nullJSON
	}
	p.complete(res, nil)
}

var errInvalidResult = errors.New("wsrpc: decode result: the peer sent a result that is not valid JSON")

// decodeResult decodes a reply's result into target. The bytes are copied
// first: they alias a read buffer that the transport reuses.
func decodeResult(data []byte, target any) error {
	switch t := target.(type) {
	case *json.RawMessage:
		if !validJSON(data) {
			return errInvalidResult
		}
		*t = append((*t)[:0], data...)
		return nil
	case *easyjson.RawMessage:
		if !validJSON(data) {
			return errInvalidResult
		}
		*t = append((*t)[:0], data...)
		return nil
	case easyjson.Unmarshaler:
		l := jlexer.Lexer{Data: append([]byte(nil), data...)}
		t.UnmarshalEasyJSON(&l)
		if err := l.Error(); err != nil {
			return fmt.Errorf("wsrpc: decode result: %w", err)
		}
		return nil
	}
	if err := json.Unmarshal(data, target); err != nil {
		return fmt.Errorf("wsrpc: decode result: %w", err)
	}
	return nil
}

// Emit sends an event: a message without "id", delivered to the peer's event
// listeners. event must encode to a JSON object without an "id" member.
//
// With a ctx that can end, Emit never waits on the write: the event is
// queued (bounded by MaxSendQueueBytes) and written by another goroutine,
// so a peer that stops reading cannot hold the caller past ctx; a write that
// then fails closes the connection. With a ctx that cannot end, Emit
// returns once the event is written.
func (c *Conn) Emit(ctx context.Context, event any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ch := c.opts.chains; ch != nil {
		return c.runOutgoing(ctx, ch.outEvent, &Invocation{Conn: c, Kind: KindOutgoingEvent, Params: event})
	}
	return c.emit(ctx, event)
}

// emit is Emit past the interceptors.
func (c *Conn) emit(ctx context.Context, event any) error {
	msg, err := EncodeEvent(event)
	if err != nil {
		return err
	}
	return c.send(msg, ctx.Done() != nil)
}

// Call is the typed form of Conn.Call: it returns the result as an R.
//
//	diff, err := wsrpc.Call[int](ctx, conn, "subtract", map[string]int{"a": 1, "b": 9})
func Call[R any](ctx context.Context, c Caller, method string, params any) (R, error) {
	var r R
	err := c.Call(ctx, method, params, &r)
	return r, err
}

// Proxy returns a typed stub for one remote method: the Go form of the
// reference's proxy.kv.get(...).
//
//	var kvGet = wsrpc.Proxy[GetParams, string]("kv.get")
//	value, err := kvGet(ctx, conn, GetParams{Key: "foo"})
func Proxy[P, R any](method string) func(ctx context.Context, c Caller, params P) (R, error) {
	return func(ctx context.Context, c Caller, params P) (R, error) {
		return Call[R](ctx, c, method, params)
	}
}
