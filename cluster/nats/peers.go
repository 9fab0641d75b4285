package nats

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	natsio "github.com/nats-io/nats.go"
)

// peers is the other live nodes, from their heartbeats on P.nodes: what a
// broadcast, a count and a listing ask, and what a call acknowledged by a
// node waits on. It holds one entry per node, nothing per client.
type peers struct {
	mu    sync.Mutex // protects nodes
	nodes map[string]peer
}

type peer struct {
	inst     string
	lastSeen time.Time
}

func (p *peers) init() { p.nodes = make(map[string]peer) }

// names returns the names of the live nodes, sorted.
func (p *peers) names() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.nodes))
	for name := range p.nodes {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// seen records a heartbeat of node; fresh reports a node or incarnation
// not known before, restarted a new incarnation.
func (p *peers) seen(node, inst string, now time.Time) (fresh, restarted bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old, ok := p.nodes[node]
	p.nodes[node] = peer{inst: inst, lastSeen: now}
	return !ok || old.inst != inst, ok && old.inst != inst
}

// drop forgets node (incarnation inst); it reports whether it knew it.
func (p *peers) drop(node, inst string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if old, ok := p.nodes[node]; ok && old.inst == inst {
		delete(p.nodes, node)
		return true
	}
	return false
}

// touchAll counts every node as just heard from: after NATS comes back,
// each gets an expiry to say it is alive.
func (p *peers) touchAll(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for name, pr := range p.nodes {
		pr.lastSeen = now
		p.nodes[name] = pr
	}
}

// expire drops the nodes last heard from before cutoff and returns them.
func (p *peers) expire(cutoff time.Time) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var gone []string
	for name, pr := range p.nodes {
		if pr.lastSeen.Before(cutoff) {
			delete(p.nodes, name)
			gone = append(gone, name)
		}
	}
	return gone
}

// heartbeat announces that this node is alive.
func (n *Node) heartbeat() { n.announce(kindHeartbeat) }

func (n *Node) announce(kind string) {
	b := encode(request{Kind: kind, Node: n.name, Inst: n.inst})
	if err := n.auth.publish(n.nc, &natsio.Msg{Subject: n.subj.nodes, Data: b}); err != nil {
		n.log.Debug("wsrpc cluster: heartbeat not published", "err", err)
	}
}

// onNodes applies a heartbeat or goodbye of a node.
func (n *Node) onNodes(msg *natsio.Msg) {
	from, err := n.auth.verify(msg, "nodes", time.Now())
	if err != nil {
		n.reject(msg, err)
		return
	}
	var m request
	if err := decode(msg.Data, &m, "heartbeat"); err != nil || m.Node != from.node || m.Inst != from.inst {
		n.reject(msg, fmt.Errorf("wsrpc cluster: a heartbeat that does not name its sender: %v", err))
		return
	}
	if m.Node == n.name {
		if m.Inst != n.inst {
			n.log.Error("wsrpc cluster: another node has this node's name; give each node its own Options.Name", "other_inst", m.Inst)
		}
		return
	}
	switch m.Kind {
	case kindHeartbeat:
		fresh, restarted := n.peers.seen(m.Node, m.Inst, time.Now())
		if fresh {
			n.heartbeat() // the newcomer learns of this node at once
		}
		if restarted {
			n.nodeDown(m.Node, fmt.Errorf("%w: node %s restarted", ErrNodeDown, m.Node))
		}
	case kindBye:
		if n.peers.drop(m.Node, m.Inst) {
			n.nodeDown(m.Node, fmt.Errorf("%w: node %s left the cluster", ErrNodeDown, m.Node))
		}
	}
}

// Nodes returns the names of the live nodes, this one included, sorted.
func (n *Node) Nodes() []string {
	out := append(n.peers.names(), n.name)
	sort.Strings(out)
	return out
}

// Count returns how many clients the cluster has, asking every live node
// (a node that does not answer is reported in err; the count of the
// others is returned all the same).
func (n *Node) Count(ctx context.Context) (int, error) {
	ctx, cancel := n.withDeadline(ctx)
	defer cancel()
	var mu sync.Mutex
	total := n.local.count()
	err := n.eachNode(ctx, &request{Kind: kindCount}, func(r *reply) {
		mu.Lock()
		total += r.Count
		mu.Unlock()
	})
	return total, err
}

// Clients returns every client of the cluster and the node it is on,
// asking every live node for its list, which each streams in parts (no
// node keeps the others' clients). A node that does not answer is
// reported in err; the clients of the others are returned all the same.
// For one client, Lookup asks only its node.
func (n *Node) Clients(ctx context.Context) (map[string]string, error) {
	ctx, cancel := n.withDeadline(ctx)
	defer cancel()
	var mu sync.Mutex
	out := make(map[string]string)
	err := n.eachNode(ctx, &request{Kind: kindList}, func(r *reply) {
		mu.Lock()
		defer mu.Unlock()
		for _, id := range r.IDs {
			out[id] = r.Node
		}
	})
	for _, id := range n.local.ids() {
		out[id] = n.name
	}
	return out, err
}
