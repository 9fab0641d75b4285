package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	natsio "github.com/nats-io/nats.go"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

// headerNode names the node that published an event.
const headerNode = "Wsrpc-Node"

// Emit sends event to every client of every node. It is encoded once
// (wsrpc.EncodeEvent); the other nodes receive the message exactly as
// their clients do and queue those bytes to each. It returns once NATS has
// the message (or with ctx's error); this node's clients have it queued by
// then. Without a deadline in ctx, the wait for NATS is bounded by
// Options.CallTimeout. Delivery to other nodes is NATS's at-most-once: a node that cannot
// keep up drops events (see Options.MaxPending) rather than grow.
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
	if n.ctx.Err() != nil {
		return ErrClosed
	}
	if int64(len(msg)) > n.nc.MaxPayload() {
		return fmt.Errorf("wsrpc cluster: an event of %d bytes exceeds NATS's max_payload (%d)", len(msg), n.nc.MaxPayload())
	}
	m := &natsio.Msg{Subject: n.subj.emit, Data: msg, Header: natsio.Header{headerNode: []string{n.name}}}
	if err := n.nc.PublishMsg(m); err != nil {
		return fmt.Errorf("wsrpc cluster: publish event: %w", err)
	}
	n.srv.EmitEncoded(msg)
	if _, ok := ctx.Deadline(); !ok { // NATS's flush needs one
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.opts.CallTimeout)
		defer cancel()
	}
	if err := n.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("wsrpc cluster: publish event: %w", err)
	}
	return nil
}

// onEmit queues an event of another node to this node's clients.
func (n *Node) onEmit(msg *natsio.Msg) {
	if msg.Header.Get(headerNode) == n.name {
		return // queued locally when published
	}
	if !isObject(msg.Data) {
		n.log.Warn("wsrpc cluster: ignored an event that is not a JSON object", "from", msg.Header.Get(headerNode), "bytes", len(msg.Data))
		return
	}
	n.srv.EmitEncoded(msg.Data)
}

// isObject reports whether b is one valid JSON object.
func isObject(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return json.Valid(b)
		}
		return false
	}
	return false
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
// ctx ended. Nodes that did not answer are reported in err (joined, each
// matching ErrNodeDown, ErrOverloaded or ctx's error); the results of the
// others are returned all the same.
func (n *Node) Broadcast(ctx context.Context, method string, params any) ([]Result, error) {
	if n.ctx.Err() != nil {
		return nil, ErrClosed
	}
	raw, err := encodeParams(params)
	if err != nil {
		return nil, err
	}
	data, _ := json.Marshal(broadcastReq{Method: method, Params: raw, TimeoutMS: n.timeoutMS(ctx)})
	var (
		mu   sync.Mutex // guards out and errs
		out  []Result
		errs []error
		wg   sync.WaitGroup
	)
	for _, node := range n.view.nodes() {
		wg.Go(func() {
			res, err := n.broadcastTo(ctx, node, data)
			mu.Lock()
			defer mu.Unlock()
			out = append(out, res...)
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	local := n.srv.Broadcast(ctx, method, paramsOf(raw))
	wg.Wait()
	for _, r := range local {
		out = append(out, Result{ClientID: r.Conn.ID(), Node: n.name, Result: r.Result, Err: r.Err})
	}
	return out, errors.Join(errs...)
}

// broadcastTo runs a broadcast on node's clients.
func (n *Node) broadcastTo(ctx context.Context, node string, data []byte) ([]Result, error) {
	msg, err := n.request(ctx, node, "broadcast", data)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", node, err)
	}
	var r broadcastReply
	if err := decode(msg.Data, &r, "broadcast reply"); err != nil {
		return nil, err
	}
	if r.Fail != "" {
		return nil, (&reply{Fail: r.Fail, Message: r.Message}).err("*", node)
	}
	out := make([]Result, 0, len(r.Results))
	for _, c := range r.Results {
		out = append(out, Result{ClientID: c.ID, Node: node, Result: c.Result, Err: c.err(c.ID, node)})
	}
	return out, nil
}
