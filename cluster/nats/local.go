package nats

import (
	"sync"

	natsio "github.com/nats-io/nats.go"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/server"
)

// localClients is this node's own clients, as the server's hooks report
// them: for each id its connection, its subscription to the id's subject
// and its claim (see claim in wire.go).
type localClients struct {
	mu     sync.Mutex // protects the following
	conns  map[string]*localClient
	serial uint64 // connections admitted so far
}

// localClient is a connected client of this node.
type localClient struct {
	conn     *wsrpc.Conn
	sub      *natsio.Subscription
	claim    claim
	replaced bool // a newer connection on another node won: closing
}

func (l *localClients) init() { l.conns = make(map[string]*localClient) }

// get returns the client with id, or nil (also once another node's newer
// connection replaced it).
func (l *localClients) get(id string) *wsrpc.Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c := l.conns[id]; c != nil && !c.replaced {
		return c.conn
	}
	return nil
}

// count returns how many clients the node has.
func (l *localClients) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// ids returns the ids of the local clients.
func (l *localClients) ids() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.conns))
	for id := range l.conns {
		out = append(out, id)
	}
	return out
}

// joined subscribes the node to a new client's subject and claims the id.
// The server already closed an older connection of the id on this node.
func (n *Node) joined(c *wsrpc.Conn) {
	id := c.ID()
	n.local.mu.Lock()
	lc := n.local.conns[id]
	subscribed := false // here, now: a connection of the id still here has its subscription confirmed
	if lc == nil {
		lc = &localClient{}
		sub, err := n.nc.ChanSubscribe(n.subj.client(id), n.inbox)
		if err != nil {
			n.log.Warn("wsrpc cluster: cannot subscribe a client's subject; other nodes cannot reach it", "client", id, "err", err)
		}
		lc.sub, subscribed = sub, sub != nil
		n.local.conns[id] = lc
	}
	n.local.serial++
	lc.conn, lc.replaced = c, false
	lc.claim = claim{G: lc.claim.G + 1, Node: n.name, Inst: n.inst, Serial: n.local.serial}
	cl := lc.claim
	n.local.mu.Unlock()
	n.publishClaim(id, cl)
	if subscribed {
		n.confirmSubscribed(id)
	}
}

// confirmSubscribed waits, bounded by UnavailableTimeout, until NATS has
// the subscriptions sent so far (a round trip): joined runs in OnConnect,
// before the client's first message is read, so whatever the client's
// messages cause, on any node, finds it reachable. A connection that
// reuses the subscription of an older one of its id on this node (not
// yet gone) needs no round trip: that one's OnConnect confirmed it.
//
// While NATS is unreachable there is nothing to wait for: calls fail with
// ErrClusterUnavailable meanwhile, and NATS gets the subscription when the
// node reconnects (noClient covers the moments after).
func (n *Node) confirmSubscribed(id string) {
	if !n.nc.IsConnected() {
		return
	}
	if err := n.nc.FlushTimeout(n.opts.UnavailableTimeout); err != nil {
		n.log.Warn("wsrpc cluster: NATS did not confirm a client's subject; other nodes may not reach it yet", "client", id, "err", err)
	}
}

// left forgets a client that closed, unless a newer connection with its
// id replaced it here, and unsubscribes from its subject.
func (n *Node) left(c *wsrpc.Conn) {
	n.local.mu.Lock()
	defer n.local.mu.Unlock()
	lc := n.local.conns[c.ID()]
	if lc == nil || lc.conn != c {
		return
	}
	delete(n.local.conns, c.ID())
	if lc.sub != nil {
		_ = lc.sub.Unsubscribe()
	}
}

// publishClaim tells the other holders of id, if any, of this node's
// claim; the answers come on P.held.<inst>.
func (n *Node) publishClaim(id string, cl claim) {
	b := encode(request{Kind: kindClaim, To: id, Claim: &cl})
	if err := n.auth.publish(n.nc, &natsio.Msg{Subject: n.subj.client(id), Reply: n.subj.held, Data: b}); err != nil {
		n.log.Warn("wsrpc cluster: claim not published; an older connection of the client on another node may stay open", "client", id, "err", err)
	}
}

// onClaim applies another node's claim of one of this node's clients:
// a higher claim closes this node's connection (the newer connection
// wins), a lower one is answered with this node's.
func (n *Node) onClaim(msg *natsio.Msg, req *request) {
	if req.Claim == nil || req.Claim.Inst == n.inst || msg.Reply == "" {
		return // this node's own: the server orders its connections
	}
	n.local.mu.Lock()
	lc := n.local.conns[req.To]
	if lc == nil || lc.replaced {
		n.local.mu.Unlock()
		return
	}
	if lc.claim.less(*req.Claim) {
		lc.replaced = true
		conn := lc.conn
		n.local.mu.Unlock()
		n.log.Info("wsrpc cluster: client connected to another node; closing its older connection", "client", req.To, "to", req.Claim.Node)
		_ = conn.CloseWithError(server.CloseReplaced, "replaced by a newer connection with the same id on node "+req.Claim.Node, nil)
		return
	}
	mine := lc.claim
	n.local.mu.Unlock()
	b := encode(request{Kind: kindHeld, To: req.To, Claim: &mine})
	n.publishTo(msg.Reply, b)
}

// onHeld: a holder's claim beats this node's claim of a connection newer
// than the holder's (it was admitted after the holder's claim went out):
// claim again, past it.
func (n *Node) onHeld(req *request) {
	if req.Claim == nil {
		return
	}
	n.local.mu.Lock()
	lc := n.local.conns[req.To]
	if lc == nil || lc.replaced || !lc.claim.less(*req.Claim) {
		n.local.mu.Unlock()
		return
	}
	lc.claim.G = req.Claim.G + 1
	cl := lc.claim
	n.local.mu.Unlock()
	n.publishClaim(req.To, cl)
}

// reclaimAll claims every local client again: after NATS comes back,
// claims lost meanwhile are made good.
func (n *Node) reclaimAll() {
	n.local.mu.Lock()
	claims := make(map[string]claim, len(n.local.conns))
	for id, lc := range n.local.conns {
		if !lc.replaced {
			claims[id] = lc.claim
		}
	}
	n.local.mu.Unlock()
	for id, cl := range claims {
		n.publishClaim(id, cl)
	}
}
