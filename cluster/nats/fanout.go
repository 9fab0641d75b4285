package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"

	natsio "github.com/nats-io/nats.go"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/server"
)

// Emit sends event to every client of every node. It is encoded once
// (wsrpc.EncodeEvent); the other nodes receive the message exactly as
// their clients do, check it (a JSON object without "id", valid UTF-8)
// and queue those bytes to each. It returns once NATS has the message
// (or with ctx's error); this node's clients have it queued by then.
// With NATS unreachable it fails with ErrClusterUnavailable: at once when
// the connection is known down, else within Options.UnavailableTimeout.
// Delivery to other nodes is NATS's at-most-once: a node that cannot keep
// up drops events (see Options.MaxPending) rather than grow, and a node
// that is reconnecting to NATS misses the events of that moment.
func (n *Node) Emit(ctx context.Context, event any) error {
	msg, err := wsrpc.EncodeEvent(event)
	if err != nil {
		return err
	}
	return n.EmitEncoded(ctx, msg)
}

// EmitEncoded is Emit for an event already encoded by wsrpc.EncodeEvent.
// msg must not change afterwards.
func (n *Node) EmitEncoded(ctx context.Context, msg []byte) error {
	return n.publishEvent(ctx, n.subj.emit, msg, func() { n.srv.EmitEncoded(msg) })
}

// publishEvent publishes the event msg, signed, on subject, runs local
// (which queues it to this node's clients) once NATS took it, and
// returns once NATS confirmed it: Emit's rules, for every kind of event.
func (n *Node) publishEvent(ctx context.Context, subject string, msg []byte, local func()) error {
	if err := n.canPublish(msg); err != nil {
		return err
	}
	if err := n.auth.publish(n.nc, &natsio.Msg{Subject: subject, Data: msg}); err != nil {
		return fmt.Errorf("%w: publish event: %w", ErrClusterUnavailable, err)
	}
	local()
	fctx, cancel := context.WithTimeout(ctx, n.opts.UnavailableTimeout)
	defer cancel()
	if err := n.nc.FlushWithContext(fctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: NATS did not confirm the event within %v: %w", ErrClusterUnavailable, n.opts.UnavailableTimeout, err)
	}
	return nil
}

// canPublish returns why the event msg cannot be published now, if it
// cannot: the node closed, the event is too large, NATS is away or has
// just come back.
func (n *Node) canPublish(msg []byte) error {
	if n.ctx.Err() != nil {
		return ErrClosed
	}
	if int64(len(msg)) > n.nc.MaxPayload() {
		return fmt.Errorf("wsrpc cluster: an event of %d bytes exceeds NATS's max_payload (%d)", len(msg), n.nc.MaxPayload())
	}
	if !n.nc.IsConnected() {
		return fmt.Errorf("%w: event not sent", ErrClusterUnavailable)
	}
	if n.settling() {
		return n.errSettling()
	}
	return nil
}

// onEmit queues an event of another node to this node's clients, once it
// checked that it is signed by a node and is an event a client may see.
func (n *Node) onEmit(msg *natsio.Msg) {
	if n.checkEvent(msg, "emit", false) {
		n.srv.EmitEncoded(msg.Data)
	}
}

// validEvent reports whether b may go to clients as an event: valid
// UTF-8, one JSON object without an "id" member (which would make it a
// call or a reply).
func validEvent(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	_, err := wsrpc.EncodeEvent(json.RawMessage(b))
	return err == nil
}

// Result is one client's answer to Broadcast.
type Result struct {
	ClientID string
	Node     string
	Result   json.RawMessage // the result, when Err is nil
	Err      error           // the client's *wsrpc.Error, or why the call failed
}

// Broadcast calls method with params on every client of every node, params
// encoded once, and returns their answers once every node has answered or
// ctx ended. Each node streams its clients' answers in parts under NATS's
// max_payload, so any number of clients answer. Nodes that did not answer
// are reported in err (joined, each matching ErrNodeDown,
// ErrClusterUnavailable, ErrOverloaded or ctx's error); the results of
// the others are returned all the same.
func (n *Node) Broadcast(ctx context.Context, method string, params any) ([]Result, error) {
	if n.ctx.Err() != nil {
		return nil, ErrClosed
	}
	raw, err := encodeParams(params)
	if err != nil {
		return nil, err
	}
	ctx, cancel := n.withDeadline(ctx)
	defer cancel()
	req := request{Kind: kindBroadcast, Method: method, Params: raw}
	deadlineOf(ctx, &req)
	// This node's clients are called while the others call theirs: none
	// waits for another node's slowest client.
	local := make(chan []Result, 1)
	go func() {
		var out []Result
		for _, r := range n.srv.Broadcast(ctx, method, paramsOf(raw)) {
			out = append(out, Result{ClientID: r.Conn.ID(), Node: n.name, Result: r.Result, Err: r.Err})
		}
		local <- out
	}()
	var mu sync.Mutex // guards out
	var out []Result
	err = n.eachNode(ctx, &req, func(r *reply) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range r.Results {
			out = append(out, Result{ClientID: c.ID, Node: r.Node, Result: c.Result, Err: c.err(c.ID, r.Node)})
		}
	})
	return append(out, <-local...), err
}

// eachNode sends req to service req.Kind of every other live node and
// hands each part of their answers to each (from several goroutines); it
// returns once all answered, with their failures joined (a node no one
// answers for is ErrNodeDown).
func (n *Node) eachNode(ctx context.Context, req *request, each func(*reply)) error {
	return n.askNodes(ctx, req, func(node string) string { return n.subj.node(node, req.Kind) }, true, each)
}

// askNodes sends req to subject(node) of every other live node and hands
// each part of their answers to each; a node on whose subject no one
// listens is ErrNodeDown if mustListen, else skipped.
func (n *Node) askNodes(ctx context.Context, req *request, subject func(node string) string, mustListen bool, each func(*reply)) error {
	var mu sync.Mutex // guards errs
	var errs []error
	var wg sync.WaitGroup
	for _, node := range n.peers.names() {
		wg.Go(func() {
			err := n.collect(ctx, subject(node), node, req, each)
			if errors.Is(err, errNoResponders) {
				if !mustListen {
					return
				}
				err = fmt.Errorf("%w: no node %s listens on NATS", ErrNodeDown, node)
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("node %s: %w", node, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// collect sends req to node's subject and hands each part of the answer
// to each, until the last.
func (n *Node) collect(ctx context.Context, subject, node string, req *request, each func(*reply)) error {
	x, err := n.send(subject, node, "", req)
	if err != nil {
		return err
	}
	defer x.close()
	for got := 1; ; got++ {
		r, err := x.next(ctx)
		switch {
		case err != nil:
			return err
		case r.Fail != "":
			return r.err("*", node)
		}
		r.Node = node
		each(r)
		if r.Parts > 0 {
			if got != r.Parts {
				return fmt.Errorf("wsrpc cluster: %d of the %d parts of the answer arrived (NATS dropped some: see Options.MaxPending)", got, r.Parts)
			}
			return nil
		}
	}
}

// parts sends a long answer to msg in parts that fit NATS's max_payload:
// add counts each item's size; when the part is full, flush sends it.
type parts struct {
	n     *Node
	msg   *natsio.Msg
	limit int
	size  int
	sent  int
}

func (n *Node) newParts(msg *natsio.Msg) *parts {
	return &parts{n: n, msg: msg, limit: int(n.nc.MaxPayload()) / 2}
}

// full adds an item of size bytes and reports whether the part is full.
func (p *parts) full(size int) bool {
	p.size += size + 16
	return p.size >= p.limit
}

// send sends r as the next part; last marks it the last. A part that
// encodes larger than max_payload (escapes lengthen strings) is halved.
func (p *parts) send(r reply, last bool) {
	p.size = 0
	r.Node = p.n.name
	if last {
		r.Parts = p.sent + 1
	}
	b := encode(r)
	if int64(len(b)) > p.n.nc.MaxPayload() {
		switch h := len(r.Results) / 2; {
		case h > 0:
			p.send(reply{Results: r.Results[:h]}, false)
			p.send(reply{Results: r.Results[h:]}, last)
			return
		case len(r.IDs) > 1:
			h = len(r.IDs) / 2
			p.send(reply{IDs: r.IDs[:h]}, false)
			p.send(reply{IDs: r.IDs[h:]}, last)
			return
		}
		b = encode(reply{Node: p.n.name, Fail: failOther, Message: "an answer exceeds NATS's max_payload"})
	}
	p.sent++
	p.n.publishTo(p.msg.Reply, b)
}

// serveBroadcast calls every client of this node and streams the answers.
func (n *Node) serveBroadcast(j job) {
	ctx, cancel := context.WithDeadline(n.ctx, n.deadline(j))
	defer cancel()
	p := n.newParts(j.msg)
	var batch []clientReply
	n.srv.BroadcastFunc(ctx, j.req.Method, paramsOf(j.req.Params), func(r server.BroadcastResult) {
		c := clientReply{ID: r.Conn.ID(), reply: replyOf(r.Result, r.Err)}
		batch = append(batch, c)
		if p.full(len(c.ID) + len(c.Result) + len(c.Message)) {
			p.send(reply{Results: batch}, false)
			batch = nil
		}
	})
	p.send(reply{Results: batch}, true)
}

// serveList streams the ids of this node's clients.
func (n *Node) serveList(j job) {
	p := n.newParts(j.msg)
	var batch []string
	for _, id := range n.local.ids() {
		batch = append(batch, id)
		if p.full(len(id)) {
			p.send(reply{IDs: batch}, false)
			batch = nil
		}
	}
	p.send(reply{IDs: batch}, true)
}
