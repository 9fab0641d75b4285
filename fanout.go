// This file owns fan-out: one message encoded once and queued on many
// connections. Events (EncodeEvent, EmitEncoded) share their bytes as they
// are; a call to many connections (CallAll) shares them too, by giving the
// call the same id on every connection.

package wsrpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/mailru/easyjson/jwriter"
)

// ErrNotEvent is returned by EncodeEvent (and Emit) for an event that does
// not encode to a JSON object without an "id" member: a peer would take it
// for a call or a reply. Send a struct or map without an "id" field.
var ErrNotEvent = errors.New(`wsrpc: an event must be a JSON object without an "id" member`)

// EncodeEvent returns the wire message of an event, the reference's event
// shape (docs/protocol.md §2, §8): event encoded as one JSON object without an "id"
// member. event is what Conn.Emit takes: a struct or map, raw JSON
// (json.RawMessage, easyjson.RawMessage) or an easyjson.Marshaler. An
// event of another shape gives an error matching ErrNotEvent.
//
// The message can be queued on any number of connections with
// Conn.EmitEncoded (or the server's EmitEncoded) without being encoded
// again.
func EncodeEvent(event any) ([]byte, error) {
	var w jwriter.Writer
	if err := appendJSON(&w, event); err != nil {
		return nil, fmt.Errorf("wsrpc: encode event: %w", err)
	}
	msg, _ := w.BuildBytes()
	if !isObject(msg) {
		return nil, ErrNotEvent
	}
	var f frame
	if f.scan(msg) != nil || f.ID != nil {
		return nil, ErrNotEvent
	}
	return msg, nil
}

// EmitEncoded queues an already-encoded message (from EncodeEvent) on c;
// the bytes are shared, not copied: the caller must not modify them
// afterwards.
//
// It never waits on the network: another goroutine writes the message. The
// message counts against c's MaxSendQueueBytes by its capacity, as every
// queued message does; a connection whose queue it would overflow is closed
// with 1008 and EmitEncoded returns ErrSendQueueFull. On a closed
// connection it returns an error matching ErrClosed.
//
// The side's outgoing-event interceptors (KindOutgoingEvent) do not see an
// encoded message: there is no event value left to show them or to
// replace. Hooks.OnMessage still sees it as it is written.
func (c *Conn) EmitEncoded(msg []byte) error {
	return c.send(msg, true)
}

// EmitEncodedAll queues msg (from EncodeEvent) on every connection of
// conns and returns how many took it; failed, when not nil, is called (on
// the caller's goroutine) with each connection that did not and why. The bytes are shared, not copied:
// the caller must not modify them afterwards. It never waits on the
// network. The connections that have to start writing are written by a
// few of the first connection's workers in turn, instead of a goroutine
// each; a write that blocks (a peer that stopped reading) makes another
// worker take over the rest within a millisecond, so that no connection
// waits on a slow one for longer than that. A connection whose queue msg
// would overflow is closed with 1008, as EmitEncoded does.
func EmitEncodedAll(conns []*Conn, msg []byte, failed func(c *Conn, err error)) int {
	if len(conns) == 0 {
		return 0
	}
	b := &flushBatch{conns: make([]*Conn, 0, len(conns))}
	n := 0
	for _, c := range conns {
		switch err := c.enqueue(outMsg{b: msg}, sendClaim, false); err {
		case nil:
			n++
		case errFlushClaimed:
			n++
			b.conns = append(b.conns, c)
		default:
			if failed != nil {
				failed(c, err)
			}
		}
	}
	if len(b.conns) == 0 {
		return n
	}
	b.start(conns[0].pool)
	return n
}

// flushBatch is the connections that one EmitEncodedAll has to write
// (a few allocations per fan-out, none per connection). Workers take them
// one at a time (next); a monitor starts another worker while the batch
// makes no progress (a write blocks), so that a slow peer holds one
// worker, not the batch. conns does not change once the workers start.
type flushBatch struct {
	conns   []*Conn
	pool    *WorkerPool
	next    atomic.Int64 // the next connection to take
	done    atomic.Int64 // connections written
	seen    int64        // done at the monitor's last look (monitor only)
	monitor *time.Timer
}

// fanOutWriters is how many workers a batch starts with.
var fanOutWriters = max(1, runtime.GOMAXPROCS(0))

// fanOutStall is how long a batch may make no progress before another
// worker joins it.
const fanOutStall = time.Millisecond

func (b *flushBatch) start(p *WorkerPool) {
	b.pool = p
	b.monitor = time.AfterFunc(time.Hour, b.check)
	b.monitor.Reset(fanOutStall) // check sees b.monitor set
	for range min(fanOutWriters, len(b.conns)) {
		p.dispatch(work{fan: b})
	}
}

// run writes connections of the batch until none is left.
func (b *flushBatch) run() {
	for {
		i := b.next.Add(1) - 1
		if i >= int64(len(b.conns)) {
			return
		}
		_ = b.conns[i].flush() // a failed write closes that connection
		if b.done.Add(1) == int64(len(b.conns)) {
			b.monitor.Stop()
			return
		}
	}
}

// check is the monitor: it starts another worker when no connection was
// written since its last look and some are still to take; it stops once
// every connection is taken.
func (b *flushBatch) check() {
	done := b.done.Load()
	if done == int64(len(b.conns)) || b.next.Load() >= int64(len(b.conns)) {
		return // every connection is taken: no worker would find any
	}
	if done == b.seen {
		b.pool.dispatch(work{fan: b})
	}
	b.seen = done
	b.monitor.Reset(fanOutStall)
}

// CallAll calls method with params on every connection of conns at once,
// encoding the call once: each connection queues the same bytes, under an
// id that is the same on all of them (ids stay unique per connection; the
// connections' id counters jump to it). each, when not nil, runs on the
// caller's goroutine once per connection, with its index in conns, as soon
// as its call finished: result is the reply's result, which each may keep,
// or err is the error reply (*Error) or why the call failed.
//
// CallAll returns once every connection answered or ctx ended; the calls
// that had not finished by then get ctx's error. It never waits on a slow
// reader: a connection that stops reading is closed by its own send-queue
// limit (MaxSendQueueBytes) and its call fails with ErrClosed. It returns
// an error only when params cannot be encoded, before anything was sent.
// The first connection's CallTimeout bounds a ctx without a deadline.
//
// From inside a handler of one of conns, that handler's struct-route
// instance is released while CallAll waits, as Conn.Call does; an inline
// handler's own connection gets ErrInlineCall.
func CallAll(ctx context.Context, conns []*Conn, method string, params any, each func(i int, result json.RawMessage, err error)) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if len(conns) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		for i := range conns {
			if each != nil {
				each(i, nil, err)
			}
		}
		return nil
	}
	if d := conns[0].opts.CallTimeout; d > 0 {
		if _, has := ctx.Deadline(); !has {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
		}
	}
	var w jwriter.Writer
	w.RawString(`,"method":`)
	w.String(method)
	if params != nil {
		w.RawString(`,"params":`)
		if err := appendJSON(&w, params); err != nil {
			return fmt.Errorf("wsrpc: encode params of %q: %w", method, err)
		}
	}
	w.RawByte('}')
	tail, _ := w.BuildBytes()

	id := sharedID(conns)
	shared := callFrame(nil, id, tail)
	job, _ := ctx.Value(jobCtxKey{}).(*callJob)
	fc := &fanCall{done: make(chan fanReply, len(conns))}
	calls := make([]pendingCall, len(conns))
	ids := make([]int64, len(conns))
	var holder *Conn // the connection whose handler called CallAll
	writes := &flushBatch{conns: make([]*Conn, 0, len(conns))}
	for i, c := range conns {
		p := &calls[i]
		p.fan, p.idx = fc, int32(i)
		if job != nil && job.c == c {
			if job.inline {
				fc.done <- fanReply{i: i, err: ErrInlineCall}
				continue
			}
			holder = c
		}
		msg, cid := shared, id
		if !c.reserveID(id) {
			// A connection whose ids already passed the shared one (or of
			// the other role) gets a frame of its own.
			cid = c.calls.nextID.Add(2)
			msg = callFrame(nil, cid, tail)
		}
		ids[i] = cid
		claimed, err := c.sendCall(cid, msg, p)
		if err != nil {
			ids[i] = 0
			fc.done <- fanReply{i: i, err: err}
		}
		if claimed {
			writes.conns = append(writes.conns, c)
		}
	}
	if len(writes.conns) > 0 {
		writes.start(conns[0].pool)
	}
	if holder != nil {
		holder.mu.Lock()
		held := job.holding
		holder.releaseLocked(job, false)
		holder.mu.Unlock()
		if held {
			defer holder.reacquire(job)
		}
	}
	reported := make([]bool, len(conns))
	for left := len(conns); left > 0; left-- {
		select {
		case r := <-fc.done:
			reported[r.i] = true
			if each != nil {
				each(r.i, r.result, r.err)
			}
		case <-ctx.Done():
			for i, c := range conns {
				if ids[i] != 0 {
					c.forget(ids[i], &calls[i])
				}
			}
			for i := range conns {
				if !reported[i] && each != nil {
					each(i, nil, ctx.Err())
				}
			}
			return nil
		}
	}
	return nil
}

// fanCall collects the replies of one CallAll. done has room for one reply
// per connection, so completing never blocks the reader.
type fanCall struct {
	done chan fanReply
}

// fanReply is one connection's end of a CallAll.
type fanReply struct {
	i      int
	result json.RawMessage
	err    error
}

// completeFan hands a reply of a CallAll to its caller. The result is
// copied: it aliases a read buffer that the transport reuses.
func (p *pendingCall) completeFan(result []byte, err error) {
	r := fanReply{i: int(p.idx), err: err}
	if err == nil {
		r.result = append(json.RawMessage(nil), result...)
	}
	p.fan.done <- r
}

// sharedID returns an id that none of conns has used: above the last id of
// each, of the servers' (even) parity when the first is a server.
func sharedID(conns []*Conn) int64 {
	var top int64
	for _, c := range conns {
		top = max(top, c.calls.nextID.Load())
	}
	id := top + 2
	if (id%2 == 0) != (conns[0].role == RoleServer) {
		id++
	}
	return id
}

// reserveID moves c's id counter to id, which c has not used yet, and
// reports whether it could: false when c's calls passed it meanwhile or id
// is of the other role's parity.
func (c *Conn) reserveID(id int64) bool {
	if (id%2 == 0) != (c.role == RoleServer) {
		return false
	}
	for {
		cur := c.calls.nextID.Load()
		if cur >= id {
			return false
		}
		if c.calls.nextID.CompareAndSwap(cur, id) {
			return true
		}
	}
}

// callFrame appends the frame of a call with id to buf: its id, then tail
// (the method and params and the closing brace).
func callFrame(buf []byte, id int64, tail []byte) []byte {
	if buf == nil {
		buf = make([]byte, 0, len(`{"id":`)+20+len(tail))
	}
	buf = append(buf, `{"id":`...)
	buf = strconv.AppendInt(buf, id, 10)
	return append(buf, tail...)
}

// sendCall registers p under id and queues msg, which the caller may share
// with other connections. claimed says that the caller must write c's
// queue (flush), as EmitEncodedAll does. An error means that p was not sent
// and will not complete; when the connection closed under way, p completes
// with the close's error instead.
func (c *Conn) sendCall(id int64, msg []byte, p *pendingCall) (claimed bool, err error) {
	c.mu.Lock()
	if c.closed {
		err := c.closedErrLocked()
		c.mu.Unlock()
		return false, err
	}
	if c.calls.pending == nil {
		c.calls.pending = make(map[int64]*pendingCall)
	}
	c.calls.pending[id] = p
	c.mu.Unlock()
	switch err := c.enqueue(outMsg{b: msg}, sendClaim, false); err {
	case nil:
		return false, nil
	case errFlushClaimed:
		return true, nil
	default:
		if c.forget(id, p) {
			return false, err
		}
		return false, nil
	}
}

// forget removes p, pending under id, and reports whether it was still
// there: false when a reply or the close took it (and completes it).
func (c *Conn) forget(id int64, p *pendingCall) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls.pending[id] != p {
		return false
	}
	delete(c.calls.pending, id)
	if len(c.calls.pending) == 0 {
		c.calls.pending = nil
	}
	return true
}
