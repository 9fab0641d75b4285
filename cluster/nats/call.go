package nats

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	natsio "github.com/nats-io/nats.go"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

// callTable is the requests this node sent and waits for: add, publish
// with the reply subject <replies>.<token> (a random token: a reply
// subject is not guessable), then wait on the pending entry until a
// reply, a failure (the serving node is down, NATS is gone) or ctx ends;
// done removes it. At most max entries wait at once.
type callTable struct {
	max int

	mu      sync.Mutex // protects the following
	rng     *mrand.ChaCha8
	pending map[string]*pending
	closed  error // set by failAll(…, true): no new entries
}

// pending is one request waiting for its replies.
type pending struct {
	ch   chan *natsio.Msg // replies, verified
	fail chan error       // buffered: the first failure
	done chan struct{}    // closed when the waiter is gone
	node string           // the serving node, once known (under callTable.mu)
	to   string           // the client a call or lookup is for
}

func (t *callTable) init(max int) {
	t.max = max
	var seed [32]byte
	_, _ = rand.Read(seed[:])
	t.rng = mrand.NewChaCha8(seed)
	t.pending = make(map[string]*pending)
}

// add registers a request (to node, when known; for client to, if any),
// or fails with ErrOverloaded past max.
func (t *callTable) add(node, to string) (string, *pending, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed != nil {
		return "", nil, t.closed
	}
	if len(t.pending) >= t.max {
		return "", nil, fmt.Errorf("%w: %d requests to other nodes wait for their replies (Options.MaxInFlight)", ErrOverloaded, t.max)
	}
	token := strconv.FormatUint(t.rng.Uint64(), 36) + strconv.FormatUint(t.rng.Uint64(), 36)
	p := &pending{ch: make(chan *natsio.Msg, 1), fail: make(chan error, 1), done: make(chan struct{}), node: node, to: to}
	t.pending[token] = p
	return token, p, nil
}

// done removes request token.
func (t *callTable) done(token string) {
	t.mu.Lock()
	p := t.pending[token]
	delete(t.pending, token)
	t.mu.Unlock()
	if p != nil {
		close(p.done)
	}
}

// setNode records that node serves request token.
func (t *callTable) setNode(token, node string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.pending[token]; p != nil {
		p.node = node
	}
}

// deliver hands a reply to request token, if it still waits; it waits
// for the waiter to take it (a stream's parts) or leave.
func (t *callTable) deliver(token string, msg *natsio.Msg) {
	t.mu.Lock()
	p := t.pending[token]
	t.mu.Unlock()
	if p != nil {
		select {
		case p.ch <- msg:
		case <-p.done:
		}
	}
}

// failNode ends every request to node with err, and returns the
// requests to clients whose node is not known yet: node may have been
// theirs.
func (t *callTable) failNode(node string, err error) (unknown []*pending) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.pending {
		switch {
		case p.node == node:
			p.failWith(err)
		case p.node == "" && p.to != "":
			unknown = append(unknown, p)
		}
	}
	return unknown
}

// nodeDown fails the requests waiting on node, a node that went down, and
// asks where the clients of the requests that wait on a node not known
// yet are: those that no node has any more fail too, instead of waiting
// for their deadline.
func (n *Node) nodeDown(node string, err error) {
	for _, p := range n.calls.failNode(node, err) {
		n.tasks.Go(func() {
			ctx, cancel := context.WithTimeout(n.ctx, n.opts.UnavailableTimeout)
			defer cancel()
			x, err := n.send(n.subj.client(p.to), "", "", &request{Kind: kindWhere, To: p.to})
			if err != nil {
				return
			}
			defer x.close()
			if _, err := x.next(ctx); errors.Is(err, errNoResponders) {
				p.failWith(fmt.Errorf("%w: no node has client %q any more: its node went down during the request", ErrNodeDown, p.to))
			}
		})
	}
}

// failAll ends every request with err; closed refuses new ones.
func (t *callTable) failAll(err error, closed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if closed {
		t.closed = err
	}
	for _, p := range t.pending {
		p.failWith(err)
	}
}

func (p *pending) failWith(err error) {
	select {
	case p.fail <- err:
	default:
	}
}

// errNoResponders: NATS had no subscriber for a request's subject.
var errNoResponders = errors.New("no responders")

// onReply hands a signed message on <replies>.<token> to its request; a
// status 503 without a body is NATS's "no responders".
func (n *Node) onReply(msg *natsio.Msg) {
	token := msg.Subject[strings.LastIndexByte(msg.Subject, '.')+1:]
	if len(msg.Data) == 0 && msg.Header.Get("Status") == "503" {
		n.calls.deliver(token, msg)
		return
	}
	if _, err := n.auth.verify(msg, "reply", time.Now()); err != nil {
		n.reject(msg, err)
		return
	}
	n.calls.deliver(token, msg)
}

// exchange is one request in flight: its reply subject and its entry.
type exchange struct {
	n     *Node
	reply string
	token string
	p     *pending
}

// send publishes a signed request on subject (served by node, when
// known; for client to, if any) with a fresh reply subject; close the
// exchange when done.
func (n *Node) send(subject, node, to string, req *request) (*exchange, error) {
	if n.ctx.Err() != nil {
		return nil, ErrClosed
	}
	if !n.nc.IsConnected() {
		return nil, fmt.Errorf("%w: the node's NATS connection is %s", ErrClusterUnavailable, strings.ToLower(n.nc.Status().String()))
	}
	token, p, err := n.calls.add(node, to)
	if err != nil {
		return nil, err
	}
	x := &exchange{n: n, reply: n.subj.replies + "." + token, token: token, p: p}
	b := encode(req)
	if err := n.auth.publish(n.nc, &natsio.Msg{Subject: subject, Reply: x.reply, Data: b}); err != nil {
		x.close()
		return nil, fmt.Errorf("%w: send: %w", ErrClusterUnavailable, err)
	}
	return x, nil
}

func (x *exchange) close() { x.n.calls.done(x.token) }

// next waits for the next reply, decoded: errNoResponders when NATS found
// no subscriber, the failure that ended the request, or ctx's error.
func (x *exchange) next(ctx context.Context) (*reply, error) {
	select {
	case msg := <-x.p.ch:
		if len(msg.Data) == 0 && msg.Header.Get("Status") == "503" {
			return nil, errNoResponders
		}
		var r reply
		if err := decode(msg.Data, &r, "reply"); err != nil {
			return nil, err
		}
		return &r, nil
	case err := <-x.p.fail:
		return nil, err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-x.n.ctx.Done():
		return nil, ErrClosed
	}
}

// withDeadline bounds ctx by CallTimeout when it has no deadline.
func (n *Node) withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, n.opts.CallTimeout)
}

// deadlineOf fills req's deadline from ctx's (which has one).
func deadlineOf(ctx context.Context, req *request) {
	dl, _ := ctx.Deadline()
	req.DeadlineMS = dl.UnixMilli()
	req.TimeoutMS = max(time.Until(dl).Milliseconds(), 1)
}

// Call calls method with params on the client with id clientID, whichever
// node it is connected to, and decodes the result into result (as
// wsrpc.Conn.Call does). A call to another node's client is one NATS
// request on the client's subject; it carries ctx's deadline (or
// Options.CallTimeout's), and the serving node starts nothing past it.
//
// It fails with ErrClientNotFound at once when no node has the client,
// with ErrClusterUnavailable when NATS is unreachable, with ErrNodeDown
// when the client's node stops answering during a call that has run for
// a heartbeat interval, and with ctx's error when ctx ends (the serving
// node is told to stop waiting). The client's error reply is a
// *wsrpc.Error.
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
	raw, err := encodeParams(params)
	if err != nil {
		return err
	}
	ctx, cancel := n.withDeadline(ctx)
	defer cancel()
	req := request{Kind: kindCall, To: clientID, Method: method, Params: raw}
	deadlineOf(ctx, &req)
	subject := n.subj.client(clientID)
	settling := n.settling()
	x, err := n.send(subject, "", clientID, &req)
	if err != nil {
		return err
	}
	defer x.close()
	for {
		r, err := x.next(ctx)
		switch {
		case errors.Is(err, errNoResponders):
			return n.noClient(clientID, settling)
		case err != nil:
			if ctx.Err() != nil {
				n.cancelServed(subject, clientID, x.reply)
			}
			return err
		case r.Ack:
			n.calls.setNode(x.token, r.Node)
			continue
		}
		if err := r.err(clientID, r.Node); err != nil {
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
}

// cancelServed tells the node serving a call that its caller gave up.
func (n *Node) cancelServed(subject, clientID, reply string) {
	b := encode(request{Kind: kindCancel, To: clientID, Reply: reply})
	_ = n.auth.publish(n.nc, &natsio.Msg{Subject: subject, Data: b})
}

// Lookup returns the name of the node that has the client with id, asking
// the cluster (no node keeps a table of the others' clients): at once
// ErrClientNotFound when none has it, ErrNodeDown when its node does not
// answer within Options.UnavailableTimeout.
func (n *Node) Lookup(ctx context.Context, clientID string) (string, error) {
	if n.local.get(clientID) != nil {
		return n.name, nil
	}
	wctx, cancel := context.WithTimeout(ctx, n.opts.UnavailableTimeout)
	defer cancel()
	settling := n.settling()
	x, err := n.send(n.subj.client(clientID), "", clientID, &request{Kind: kindWhere, To: clientID})
	if err != nil {
		return "", err
	}
	defer x.close()
	r, err := x.next(wctx)
	switch {
	case errors.Is(err, errNoResponders):
		return "", n.noClient(clientID, settling)
	case err != nil && ctx.Err() == nil && wctx.Err() != nil:
		return "", fmt.Errorf("%w: the node of client %q did not answer within %v", ErrNodeDown, clientID, n.opts.UnavailableTimeout)
	case err != nil:
		return "", err
	}
	return r.Node, nil
}

// noClient is the error of a request for client id that NATS answered
// "no responders": ErrClusterUnavailable when that may not mean "no
// client" (the request was sent while the nodes settled, sentSettling,
// or they are unsure now), else ErrClientNotFound.
func (n *Node) noClient(id string, sentSettling bool) error {
	if sentSettling || n.unsure() {
		return n.errSettling()
	}
	return fmt.Errorf("%w: %q", ErrClientNotFound, id)
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
