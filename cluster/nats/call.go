package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	natsio "github.com/nats-io/nats.go"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

// callTable is the requests this node sent to other nodes and waits for:
// add, publish with the reply subject <replies>.<id>, then wait on the
// pending entry until onReply, failNode (the node is down) or ctx ends;
// done removes it. Each node called has at most max entries.
type callTable struct {
	max int

	mu      sync.Mutex // protects the following
	next    uint64
	pending map[uint64]*pending
	perNode map[string]int
	closed  error // set by failAll: no new entries
}

// pending is one request waiting for its reply.
type pending struct {
	node string
	ch   chan answer // buffered: one answer
}

// answer is what ends a pending request: a reply message, or an error.
type answer struct {
	msg *natsio.Msg
	err error
}

func (t *callTable) init(max int) {
	t.max = max
	t.pending = make(map[uint64]*pending)
	t.perNode = make(map[string]int)
}

// add registers a request to node, or fails with ErrOverloaded past max.
func (t *callTable) add(node string) (uint64, *pending, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed != nil {
		return 0, nil, t.closed
	}
	if t.perNode[node] >= t.max {
		return 0, nil, fmt.Errorf("%w: %d calls to node %s wait for their replies (Options.MaxInFlight)", ErrOverloaded, t.max, node)
	}
	t.next++
	p := &pending{node: node, ch: make(chan answer, 1)}
	t.pending[t.next] = p
	t.perNode[node]++
	return t.next, p, nil
}

// done removes request id.
func (t *callTable) done(id uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.pending[id]; ok {
		delete(t.pending, id)
		if t.perNode[p.node]--; t.perNode[p.node] == 0 {
			delete(t.perNode, p.node)
		}
	}
}

// deliver hands a reply to request id, if it still waits.
func (t *callTable) deliver(id uint64, a answer) {
	t.mu.Lock()
	p := t.pending[id]
	t.mu.Unlock()
	if p != nil {
		select {
		case p.ch <- a:
		default:
		}
	}
}

// failNode ends every request to node with err.
func (t *callTable) failNode(node string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.pending {
		if p.node == node {
			select {
			case p.ch <- answer{err: err}:
			default:
			}
		}
	}
}

// failAll ends every request with err and refuses new ones.
func (t *callTable) failAll(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = err
	for _, p := range t.pending {
		select {
		case p.ch <- answer{err: err}:
		default:
		}
	}
}

// onReply hands a message on <replies>.<id> to its request.
func (n *Node) onReply(msg *natsio.Msg) {
	i := strings.LastIndexByte(msg.Subject, '.')
	id, err := strconv.ParseUint(msg.Subject[i+1:], 10, 64)
	if err != nil {
		return
	}
	n.calls.deliver(id, answer{msg: msg})
}

// request sends data to the what subject of node and waits for the reply,
// until ctx ends or the node is counted down.
func (n *Node) request(ctx context.Context, node, what string, data []byte) (*natsio.Msg, error) {
	id, p, err := n.calls.add(node)
	if err != nil {
		return nil, err
	}
	defer n.calls.done(id)
	if !n.view.alive(node) {
		return nil, fmt.Errorf("%w: node %s is not in the cluster", ErrNodeDown, node)
	}
	reply := n.subj.replies + "." + strconv.FormatUint(id, 10)
	if err := n.nc.PublishRequest(n.subj.node(node, what), reply, data); err != nil {
		return nil, fmt.Errorf("wsrpc cluster: send to node %s: %w", node, err)
	}
	select {
	case a := <-p.ch:
		if a.err != nil {
			return nil, a.err
		}
		if len(a.msg.Data) == 0 && a.msg.Header.Get("Status") == "503" {
			return nil, fmt.Errorf("%w: node %s does not listen on NATS", ErrNodeDown, node)
		}
		return a.msg, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-n.ctx.Done():
		return nil, ErrClosed
	}
}

// timeoutMS is what is left of ctx in milliseconds, or CallTimeout's.
func (n *Node) timeoutMS(ctx context.Context) int64 {
	d := n.opts.CallTimeout
	if dl, ok := ctx.Deadline(); ok {
		d = time.Until(dl)
	}
	return max(d.Milliseconds(), 1)
}

// Call calls method with params on the client with id clientID, whichever
// node it is connected to, and decodes the result into result (as
// wsrpc.Conn.Call does). It returns when the reply is back, when ctx ends,
// or, when the client's node stops answering, within the heartbeat expiry
// with ErrNodeDown. A client no node has fails with ErrClientNotFound; the
// client's error reply is a *wsrpc.Error.
//
// A client is known from the server's OnConnect hook on, which runs just
// after its upgrade, and on other nodes once they heard of it (a
// heartbeat interval at most, usually far less): a call made the moment a
// client's Dial returned may find it not yet.
func (n *Node) Call(ctx context.Context, clientID, method string, params, result any) error {
	if n.ctx.Err() != nil {
		return ErrClosed
	}
	if c := n.local.get(clientID); c != nil {
		err := c.Call(ctx, method, params, result)
		if errors.Is(err, wsrpc.ErrClosed) {
			return fmt.Errorf("%w: client %q disconnected during the call: %w", ErrClientNotFound, clientID, err)
		}
		return err
	}
	node, ok := n.view.lookup(clientID)
	if !ok {
		return fmt.Errorf("%w: %q", ErrClientNotFound, clientID)
	}
	raw, err := encodeParams(params)
	if err != nil {
		return err
	}
	data, _ := json.Marshal(callReq{To: clientID, Method: method, Params: raw, TimeoutMS: n.timeoutMS(ctx)})
	msg, err := n.request(ctx, node, "call", data)
	if err != nil {
		return err
	}
	var r reply
	if err := decode(msg.Data, &r, "call reply"); err != nil {
		return err
	}
	if err := r.err(clientID, node); err != nil {
		return err
	}
	if result == nil {
		return nil
	}
	if err := json.Unmarshal(r.Result, result); err != nil {
		return fmt.Errorf("wsrpc cluster: decode the result of %s from client %q: %w", method, clientID, err)
	}
	return nil
}

// encodeParams encodes params once, for every node it goes to.
func encodeParams(params any) (json.RawMessage, error) {
	if params == nil {
		return nil, nil
	}
	if raw, ok := params.(json.RawMessage); ok {
		return raw, nil
	}
	b, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("wsrpc cluster: encode params: %w", err)
	}
	return b, nil
}

// err is the error a reply stands for, or nil for a result.
func (r *reply) err(clientID, node string) error {
	switch {
	case r.Error != nil:
		return &wsrpc.Error{Type: r.Error.Type, Message: r.Error.Message, Raw: r.Error.Raw}
	case r.Fail == "":
		return nil
	case r.Fail == failNotFound:
		return fmt.Errorf("%w: %q (node %s: %s)", ErrClientNotFound, clientID, node, r.Message)
	case r.Fail == failOverloaded:
		return fmt.Errorf("%w: node %s: %s", ErrOverloaded, node, r.Message)
	case r.Fail == failTimeout:
		return fmt.Errorf("wsrpc cluster: client %q on node %s: %w", clientID, node, context.DeadlineExceeded)
	}
	return fmt.Errorf("wsrpc cluster: client %q on node %s: %s: %s", clientID, node, r.Fail, r.Message)
}
