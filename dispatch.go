// This file owns the read path: HandleMessage routes each message to a call,
// a reply or an event; a call becomes a callJob (pooled), which run executes
// and answers.

package wsrpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/mailru/easyjson/jwriter"

	"github.com/wsrpc/wsrpc-go/internal/jsondepth"
)

// HandleMessage processes one complete text message from the peer. The engine
// keeps no reference to msg after it returns. It does not block on the
// network: replies it produces itself are written asynchronously.
func (c *Conn) HandleMessage(msg []byte) {
	if h := c.opts.Hooks; h != nil && h.OnMessage != nil {
		c.hookMessage(h.OnMessage, false, msg)
	}
	// The frame decoder is lenient inside values (it takes 01 as a number):
	// ids are checked strictly by parseID, params by whatever decodes them
	// (ping validates what it echoes), and events and raw results are
	// validated before anyone sees them.
	if !isObject(msg) {
		c.opts.Logger.Debug("wsrpc: dropped a message that is not a JSON object", "conn", c.logID())
		return
	}
	tooDeep := jsondepth.Exceeds(msg, c.opts.MaxDepth)
	var f frame
	if err := f.scan(msg); err != nil {
		c.opts.Logger.Debug("wsrpc: dropped a malformed message", "conn", c.logID(), "err", err)
		return
	}
	if tooDeep {
		if key, fits, ok := parseID(f.ID); ok && f.Method != nil && !(fits && key == 0) {
			c.replyErrorAsync(append([]byte(nil), f.ID...), TypeTypeError,
				fmt.Sprintf("params nested deeper than %d levels (MaxDepth)", c.opts.MaxDepth))
		}
		c.opts.Logger.Debug("wsrpc: dropped a message nested too deep", "conn", c.logID())
		return
	}
	if f.ID == nil || f.Method != nil {
		c.touch()
	}
	switch {
	case f.ID == nil:
		if (c.opts.OnEvent != nil || c.opts.chains != nil) && validJSON(msg) {
			c.onEvent(msg)
		}
	case f.Method != nil:
		c.handleCall(msg, &f)
	default:
		c.handleReply(&f)
	}
}

// callJob is one incoming call from arrival to reply. It is also the
// handler's context: the connection's context plus the job itself, so a
// call costs no context allocation.
type callJob struct {
	context.Context
	c      *Conn
	buf    []byte // owns the message the slices below point into
	id     []byte
	key    int64
	hasKey bool
	method string
	params []byte
	size   int64

	members members // of params, as the frame scan recorded them (see scanObject)

	fr     *funcRoute
	inst   *instance
	member string
	mm     *method // member's method, found with the full name (nil: look it up)

	started  bool // a goroutine runs it (guarded by c.mu)
	holding  bool // it holds inst (guarded by c.mu)
	wake     chan struct{}
	w        jwriter.Writer // encodes the reply
	reply    []byte         // an inline call's reply buffer, kept with the pooled job
	inline   bool           // runs on the reader's goroutine (see Inline)
	lone     bool           // inline on a connection that held no call: not in a waitQueue (guarded by c.mu)
	nextSame *callJob       // next call with the same id
	lastSame *callJob       // tail of that chain (on the head only)
}

// Value returns the job for the engine's key, else the connection
// context's values.
func (j *callJob) Value(key any) any {
	if key == (jobCtxKey{}) {
		return j
	}
	return j.Context.Value(key)
}

func (c *Conn) handleCall(msg []byte, f *frame) {
	key, fits, ok := parseID(f.ID)
	if !ok || (fits && key == 0) {
		c.opts.Logger.Debug("wsrpc: dropped a call whose id is not a non-zero integer", "conn", c.logID(), "id", string(f.ID))
		return
	}
	j := newJob(msg)
	buf := j.buf
	j.Context = connContext{c}
	j.c = c
	j.id = rebase(f.ID, msg, buf)
	j.key, j.hasKey = key, fits
	j.params = rebase(f.Params, msg, buf)
	if f.members.ok {
		j.members = f.members // offsets from the params' start: valid in buf too
	}
	j.size = callFootprint(buf)
	// The method name points into j.buf. Until the route is known (and its
	// stable name replaces it) the job must not go back to the pool.
	name, err := unquoteOwned(rebase(f.Method, msg, buf))
	if err != nil {
		// The reference fails with a TypeError too (it looks for a dot in
		// the name): a call with "method": null is answered, not dropped.
		c.replyErrorAsync(j.id, TypeTypeError, "method must be a string, not "+jsonKind(f.Method))
		return
	}
	j.method = name
	if c.opts.Hooks != nil && c.opts.Hooks.OnCallStart != nil {
		ci := CallInfo{Conn: c, Method: name, ID: j.id, Params: j.params}
		c.hookCallStart(connContext{c}, &ci)
	}

	target, found := c.reg.resolve(name)
	if !found {
		c.refuseCall(j, TypeNotImplemented, `Callback function "`+name+`" not implemented`)
		return
	}
	fr, sr := target.fr, target.sr
	j.fr, j.member = fr, target.member
	switch {
	case fr != nil:
		j.method = fr.name
	case target.full != "":
		j.method, j.mm = target.full, target.m
	default:
		j.method, j.mm = sr.fullName(target.member)
	}

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if sr != nil {
		// The instance is made (once per connection and name) even when the
		// member turns out not to exist, as in the reference; an instance
		// made from an earlier registration stays in use.
		j.inst = c.instanceLocked(sr)
		if _, e := j.inst.route.resolved(j.member, j.mm); e != nil {
			c.mu.Unlock()
			c.refuseCall(j, e.Type, e.Message)
			return
		}
	}
	if c.sched.draining {
		c.mu.Unlock()
		c.refuseCall(j, TypeRuntimeError, "the connection is shutting down and takes no new calls")
		return
	}
	// An inline route runs here, on the reader, when it starts at once.
	reason, inline := c.admitLocked(j, c.sched.batch && j.runsInline())
	if inline != nil {
		inline.inline = true
	}
	c.mu.Unlock()
	if reason != "" {
		c.refuseCall(j, TypeRuntimeError, reason)
		return
	}
	if inline != nil {
		var start time.Duration
		timed := c.opts.InlineBudget > 0 && c.timesInlineCall()
		if timed {
			start = monoNow()
		}
		if next := c.run(inline); next != nil {
			c.pool.start(next)
		}
		if timed {
			c.checkInlineBudget(inline, start)
		}
		// An inline call is over when run returns (its handler may not keep
		// its context), so its job is reused.
		recycleJob(inline)
	}
}

// jobPool recycles the jobs of inline calls.
var jobPool = sync.Pool{New: func() any { return new(callJob) }}

// maxPooledJobBuf is the largest message buffer a pooled job keeps.
const maxPooledJobBuf = 4 << 10

// newJob returns a job owning a copy of msg.
func newJob(msg []byte) *callJob {
	j := jobPool.Get().(*callJob)
	buf := j.buf
	if cap(buf) < len(msg) {
		buf = make([]byte, len(msg))
	}
	buf = buf[:len(msg)]
	copy(buf, msg)
	j.buf = buf
	return j
}

func recycleJob(j *callJob) {
	buf, reply := j.buf, j.reply
	if cap(buf) > maxPooledJobBuf {
		buf = nil
	}
	if cap(reply) > maxPooledJobBuf {
		reply = nil
	}
	*j = callJob{buf: buf[:0], reply: reply[:0]}
	jobPool.Put(j)
}

// run executes one call on a worker goroutine and sends the reply. It
// returns the call the worker should run next, if any.
func (c *Conn) run(j *callJob) *callJob {
	var ctx context.Context = j

	// An inline call's reply is encoded into its job's buffer and copied
	// into the send queue (its job is reused at once); any other call's into
	// a pooled buffer that the queue takes over.
	var bp *[]byte
	buf := j.reply[:0]
	if !j.inline {
		bp = getBuf()
		buf = (*bp)[:0]
	}
	w := &j.w
	*w = jwriter.Writer{}
	w.Buffer.Buf = buf
	var (
		err   error
		start time.Time
	)
	debug := c.logs(slog.LevelDebug)
	if debug {
		start = time.Now()
	}
	if c.opts.chains == nil && j.routeIntercept() == nil {
		err = c.execute(ctx, j, w)
	} else {
		err = c.intercepted(ctx, j, w)
	}
	if debug {
		c.logCall(j, time.Since(start), err)
	}
	if err != nil {
		if c.opts.Hooks != nil && c.opts.Hooks.OnCallFail != nil {
			ci := CallInfo{Conn: c, Method: j.method, ID: j.id, Params: j.params}
			c.hookCallFail(ctx, &ci, err)
		}
		typ, msg := errorTypeMessage(err)
		*w = jwriter.Writer{}
		w.Buffer.Buf = buf
		appendErrorReplyTo(w, j.id, typ, msg)
	} else if c.opts.Hooks != nil && c.opts.Hooks.OnCallSuccess != nil {
		reply, _ := w.BuildBytes()
		*w = jwriter.Writer{}
		w.Buffer.Buf = reply
		ci := CallInfo{Conn: c, Method: j.method, ID: j.id, Params: j.params}
		c.hookCallSuccess(ctx, &ci, resultOf(reply))
	}
	reply, _ := w.BuildBytes()
	var sendErr error
	if j.inline {
		// An inline reply always waits for the end of the read.
		j.reply = reply[:0]
		sendErr = c.enqueueCopy(reply, sendNow, true)
	} else {
		*bp = reply
		// When another call of this connection is about to run on this
		// worker (see finish), leave the reply queued: that call's reply, or
		// the last of the chain, carries it in the same write.
		c.mu.Lock()
		chained := j.holding && j.inst.waiting() > 0 && !j.inst.waiters.jobs[0].started ||
			c.sched.waiting.queued() && int(c.sched.running) <= c.opts.MaxConcurrentRequests
		c.mu.Unlock()
		sendErr = c.enqueue(outMsg{b: reply, pool: bp}, sendNow, chained)
	}
	if sendErr != nil && !errors.Is(sendErr, ErrClosed) {
		c.opts.Logger.Debug("wsrpc: reply not sent", "conn", c.logID(), "method", j.method, "err", sendErr)
	}
	return c.finish(j)
}

// execute runs the handler of j (and a struct route's implicit Init) and
// writes the whole reply to w.
func (c *Conn) execute(ctx context.Context, j *callJob, w *jwriter.Writer) (err error) {
	defer func() {
		if p := recover(); p != nil {
			pe := recovered(strconv.Quote(j.method), p)
			pe.log(c)
			err = pe // the peer gets panicReply's words (errorTypeMessage)
		}
	}()
	var (
		m    *method
		recv receiver
	)
	if j.fr != nil {
		m = j.fr.m
	} else {
		inst := j.inst
		recv = inst.receiver()
		mm, e := inst.route.resolved(j.member, j.mm)
		if e != nil {
			return e
		}
		m = mm
		if init := inst.route.initMethod(); init != nil && !inst.initRan.Load() {
			if err := c.runInit(ctx, inst, init, j.member == ""); err != nil {
				return err
			}
		}
	}
	w.RawString(`{"id":`)
	w.Raw(j.id, nil)
	w.RawString(`,"result":`)
	if err := m.call(ctx, recv, j.params, w); err != nil {
		return err
	}
	w.RawByte('}')
	if w.Error != nil {
		return &Error{Type: TypeValueError, Message: "Can not serialize result: " + w.Error.Error()}
	}
	return nil
}

// bufPool recycles reply buffers: a reply is encoded into one, queued, and
// the buffer comes back once the transport wrote it.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// maxPooledBuf is the largest buffer bufPool keeps.
const maxPooledBuf = 64 << 10

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(bp *[]byte) {
	if cap(*bp) <= maxPooledBuf {
		*bp = (*bp)[:0]
		bufPool.Put(bp)
	}
}

func (c *Conn) replyErrorAsync(id []byte, typ, message string) {
	_ = c.send(appendErrorReply(nil, id, typ, message), true)
}
