package nats

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	natsio "github.com/nats-io/nats.go"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

// The serving side. Requests to this node's clients and services share
// one queue (inbox, bounded by MaxPending); one dispatcher goroutine
// verifies each, answers the quick ones (claims, lookups, cancels) itself
// and hands calls, broadcasts and lists to a set of worker goroutines
// that grows to MaxServing and shrinks when idle: a served call does not
// start a goroutine of its own. Past MaxServing busy workers a request is
// answered "overloaded" at once.

// maxTimeout bounds the timeout another node may ask for.
const maxTimeout = 24 * time.Hour

// workerIdle is how long an idle worker waits for work before it ends.
const workerIdle = 10 * time.Second

// job is one request for a worker.
type job struct {
	msg  *natsio.Msg
	req  request
	recv time.Time // when the dispatcher took it from the queue
}

// workers counts the node's worker goroutines; jobs hands work to an idle
// one.
type workers struct {
	jobs chan job // unbuffered: a send succeeds only to an idle worker

	mu      sync.Mutex // protects running
	running int
}

// served is the calls running for other nodes, by reply subject, for
// cancels and acknowledgements; cancelled remembers the cancels that came
// before their call ran.
type served struct {
	mu        sync.Mutex // protects the following
	calls     map[string]*servedCall
	cancelled map[string]time.Time
}

type servedCall struct {
	cancel context.CancelFunc
	start  time.Time
	acked  bool
}

func (s *served) init() {
	s.calls = make(map[string]*servedCall)
	s.cancelled = make(map[string]time.Time)
}

// start registers a call about to run; false when it was cancelled.
func (s *served) start(reply string, cancel context.CancelFunc) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.cancelled[reply]; ok {
		delete(s.cancelled, reply)
		return false
	}
	s.calls[reply] = &servedCall{cancel: cancel, start: time.Now()}
	return true
}

func (s *served) end(reply string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.calls, reply)
}

// cancel ends the wait of the call replying to reply, or remembers the
// cancel for a moment when it has not started.
func (s *served) cancel(reply string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.calls[reply]; c != nil {
		c.cancel()
		return
	}
	if len(s.cancelled) < 4096 {
		s.cancelled[reply] = time.Now()
	}
}

// len returns how many calls run.
func (s *served) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// slow returns the reply subjects of the calls that run since before
// cutoff and were not acknowledged yet, marking them, and forgets the
// cancels older than cutoff.
func (s *served) slow(cutoff time.Time) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for reply, c := range s.calls {
		if !c.acked && c.start.Before(cutoff) {
			c.acked = true
			out = append(out, reply)
		}
	}
	for reply, at := range s.cancelled {
		if at.Before(cutoff) {
			delete(s.cancelled, reply)
		}
	}
	return out
}

// dispatch takes the requests of inbox until the node closes.
func (n *Node) dispatch() {
	for {
		select {
		case <-n.ctx.Done():
			return
		case msg := <-n.inbox:
			if h := n.testHookDispatch.Load(); h != nil {
				(*h)()
			}
			n.handle(msg)
		}
	}
}

// handle verifies one request and serves it or hands it to a worker.
func (n *Node) handle(msg *natsio.Msg) {
	if _, err := n.auth.verify(msg, "inbox", time.Now()); err != nil {
		n.reject(msg, err)
		return
	}
	var req request
	if err := decode(msg.Data, &req, "request"); err != nil {
		n.reject(msg, err)
		return
	}
	forClient := msg.Subject == n.subj.client(req.To)
	switch {
	case req.Kind == kindClaim && forClient:
		n.onClaim(msg, &req)
	case req.Kind == kindHeld && msg.Subject == n.subj.held:
		n.onHeld(&req)
	case req.Kind == kindCancel && forClient:
		n.served.cancel(req.Reply)
	case req.Kind == kindWhere && forClient:
		if n.local.get(req.To) != nil {
			n.respond(msg, reply{Node: n.name})
		}
	case req.Kind == kindCall && forClient,
		req.Kind == kindBroadcast && msg.Subject == n.subj.node(n.name, kindBroadcast),
		req.Kind == kindList && msg.Subject == n.subj.node(n.name, kindList):
		n.work(job{msg: msg, req: req, recv: time.Now()})
	case req.Kind == kindCount && msg.Subject == n.subj.node(n.name, kindCount):
		n.respond(msg, reply{Node: n.name, Count: n.local.count(), Parts: 1})
	case req.Kind == kindPing && msg.Subject == n.subj.node(n.name, kindPing):
		n.respond(msg, reply{Node: n.name, Message: n.inst})
	default:
		n.reject(msg, errors.New("wsrpc cluster: a request of an unknown kind or on the wrong subject"))
	}
}

// work hands j to an idle worker, or to a new one while fewer than
// MaxServing run, or answers overloaded.
func (n *Node) work(j job) {
	select {
	case n.workers.jobs <- j:
		return
	default:
	}
	n.workers.mu.Lock()
	grow := n.workers.running < n.opts.MaxServing
	if grow {
		n.workers.running++
	}
	n.workers.mu.Unlock()
	if !grow {
		n.respond(j.msg, reply{Node: n.name, Fail: failOverloaded, Message: "too many calls from other nodes run (Options.MaxServing)"})
		return
	}
	if !n.tasks.Go(func() { n.worker(j) }) {
		n.workers.mu.Lock()
		n.workers.running--
		n.workers.mu.Unlock()
	}
}

// worker runs jobs until it has been idle for workerIdle.
func (n *Node) worker(j job) {
	defer func() {
		n.workers.mu.Lock()
		n.workers.running--
		n.workers.mu.Unlock()
	}()
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		n.run(j)
		idle.Reset(workerIdle)
		select {
		case j = <-n.workers.jobs:
		case <-idle.C:
			return
		case <-n.ctx.Done():
			return
		}
	}
}

func (n *Node) run(j job) {
	switch j.req.Kind {
	case kindCall:
		n.serveCall(j)
	case kindBroadcast:
		n.serveBroadcast(j)
	case kindList:
		n.serveList(j)
	}
}

// deadline is when a served request must be over: the caller's deadline,
// and no later than its timeout from when this node took the request.
func (n *Node) deadline(j job) time.Time {
	d := n.opts.CallTimeout
	if ms := j.req.TimeoutMS; ms > 0 && ms < maxTimeout.Milliseconds() {
		d = time.Duration(ms) * time.Millisecond
	}
	dl := j.recv.Add(d)
	if ms := j.req.DeadlineMS; ms > 0 {
		dl = minTime(dl, time.UnixMilli(ms))
	}
	return dl
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// serveCall runs a call on a client of this node, unless its deadline
// passed or its caller cancelled it.
func (n *Node) serveCall(j job) {
	ctx, cancel := context.WithDeadline(n.ctx, n.deadline(j))
	defer cancel()
	if ctx.Err() != nil {
		n.stats.expired.Add(1)
		n.respond(j.msg, reply{Node: n.name, Fail: failTimeout, Message: "the caller's deadline passed before the call could start"})
		return
	}
	c := n.local.get(j.req.To)
	if c == nil || j.req.Method == "" {
		n.respond(j.msg, reply{Node: n.name, Fail: failNotFound, Message: "no such client on this node"})
		return
	}
	if !n.served.start(j.msg.Reply, cancel) {
		return // the caller gave up
	}
	defer n.served.end(j.msg.Reply)
	var res json.RawMessage
	err := c.Call(ctx, j.req.Method, paramsOf(j.req.Params), &res)
	r := replyOf(res, err)
	r.Node = n.name
	n.respond(j.msg, r)
}

// paramsOf passes raw params on untouched (nil when absent).
func paramsOf(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	return raw
}

// replyOf is the reply that stands for a client's result or error.
func replyOf(res json.RawMessage, err error) reply {
	var we *wsrpc.Error
	switch {
	case err == nil:
		if len(res) == 0 {
			res = json.RawMessage("null")
		}
		return reply{Result: res}
	case errors.As(err, &we):
		return reply{Error: &wireError{Type: we.Type, Message: we.Message, Raw: we.Raw}}
	case errors.Is(err, wsrpc.ErrClosed):
		return reply{Fail: failNotFound, Message: "the client disconnected during the call"}
	case errors.Is(err, context.DeadlineExceeded):
		return reply{Fail: failTimeout, Message: err.Error()}
	}
	return reply{Fail: failOther, Message: err.Error()}
}

// ackSlow tells the callers of the calls that run for a heartbeat
// interval which node serves them, so that they fail with ErrNodeDown if
// it dies.
func (n *Node) ackSlow() {
	b := encode(reply{Ack: true, Node: n.name})
	for _, r := range n.served.slow(time.Now().Add(-n.opts.HeartbeatInterval)) {
		n.publishTo(r, b)
	}
}

// respond answers a request (nothing when it has no reply subject).
func (n *Node) respond(msg *natsio.Msg, r reply) {
	if msg.Reply == "" {
		return
	}
	b := encode(r)
	n.publishTo(msg.Reply, b)
}

// publishTo publishes b, signed, on subject.
func (n *Node) publishTo(subject string, b []byte) {
	if err := n.auth.publish(n.nc, &natsio.Msg{Subject: subject, Data: b}); err != nil {
		n.log.Debug("wsrpc cluster: reply not sent", "err", err)
	}
}

// reject drops a message that failed its checks, counting it.
func (n *Node) reject(msg *natsio.Msg, err error) {
	n.stats.rejected.Add(1)
	n.log.Debug("wsrpc cluster: dropped a message", "subject", msg.Subject, "bytes", len(msg.Data), "err", err)
}
