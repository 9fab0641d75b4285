package nats

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	natsio "github.com/nats-io/nats.go"
)

// maxBuffered bounds the announcements of one node held while its snapshot
// is fetched; past it they are dropped and the snapshot is fetched again.
const maxBuffered = 4096

// maxSnapshotClients bounds the clients a snapshot from another node may
// list: far more than one node can serve.
const maxSnapshotClients = 16 << 20

// view is what this node knows of the others: each live node and its
// clients, from their heartbeats, announcements and snapshots.
//
// A node's announcements are numbered; one applied out of turn would make
// the view wrong, so a gap (a lost message, a node seen for the first time,
// a node restarted as a new incarnation) fetches the node's snapshot
// (fetchSnapshot), holding its announcements meanwhile, and replays those
// newer than the snapshot.
type view struct {
	mu    sync.Mutex // protects the following
	peers map[string]*peer
	owner map[string]owner // client id → the node that has it
}

// peer is another node as the view knows it.
type peer struct {
	inst     string
	seq      uint64 // the last announcement applied
	lastSeen time.Time
	clients  map[string]int64 // its clients and when each connected
	syncing  bool             // a snapshot is being fetched
	held     []presenceMsg    // announcements that arrived meanwhile
	overflow bool             // some were dropped: fetch again
}

// owner is the node a client is connected to.
type owner struct {
	node string
	at   int64
}

func (v *view) init() {
	v.peers = make(map[string]*peer)
	v.owner = make(map[string]owner)
}

// lookup returns the node of client id, if another node has it.
func (v *view) lookup(id string) (string, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	o, ok := v.owner[id]
	return o.node, ok
}

// alive reports whether node is a live node of the view.
func (v *view) alive(node string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	_, ok := v.peers[node]
	return ok
}

func (v *view) clients() map[string]string {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string]string, len(v.owner))
	for id, o := range v.owner {
		out[id] = o.node
	}
	return out
}

func (v *view) nodes() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]string, 0, len(v.peers))
	for name := range v.peers {
		out = append(out, name)
	}
	return out
}

// addLocked records that node has client id since at.
func (v *view) addLocked(node string, p *peer, id string, at int64) {
	p.clients[id] = at
	if o, ok := v.owner[id]; !ok || o.at <= at {
		v.owner[id] = owner{node: node, at: at}
	}
}

// removeLocked records that node no longer has client id.
func (v *view) removeLocked(node string, p *peer, id string) {
	delete(p.clients, id)
	if v.owner[id].node == node {
		v.reownLocked(id)
	}
}

// reownLocked gives client id to the node that has its newest connection,
// if any does still (two nodes hold one id for a moment when it moves).
func (v *view) reownLocked(id string) {
	delete(v.owner, id)
	for name, p := range v.peers {
		if at, ok := p.clients[id]; ok {
			if o, had := v.owner[id]; !had || o.at <= at {
				v.owner[id] = owner{node: name, at: at}
			}
		}
	}
}

// dropLocked forgets node and its clients.
func (v *view) dropLocked(node string) {
	p := v.peers[node]
	if p == nil {
		return
	}
	delete(v.peers, node)
	for id := range p.clients {
		if v.owner[id].node == node {
			v.reownLocked(id)
		}
	}
}

// expire drops the nodes last heard from before cutoff and returns their
// names.
func (v *view) expire(cutoff time.Time) []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var gone []string
	for name, p := range v.peers {
		if p.lastSeen.Before(cutoff) {
			v.dropLocked(name)
			gone = append(gone, name)
		}
	}
	return gone
}

// onPresence applies a message of <prefix>.presence.
func (n *Node) onPresence(msg *natsio.Msg) {
	var m presenceMsg
	if err := decode(msg.Data, &m, "presence"); err != nil || !validName(m.Node) || m.Inst == "" {
		n.log.Warn("wsrpc cluster: ignored a presence message", "err", err, "node", m.Node)
		return
	}
	if m.Node == n.name {
		if m.Inst != n.inst {
			n.log.Error("wsrpc cluster: another node has this node's name; give each node its own Options.Name", "other_inst", m.Inst)
		}
		return
	}
	if m.Kind == kindJoin && m.ID != "" {
		defer n.replacedElsewhere(m.ID, m.At, m.Node)
	}
	fetch, downed := n.view.apply(m, time.Now())
	if downed {
		n.calls.failNode(m.Node, fmt.Errorf("%w: node %s left the cluster or restarted", ErrNodeDown, m.Node))
	}
	if fetch {
		n.tasks.Go(func() { n.fetchSnapshot(m.Node, m.Inst) })
	}
}

// apply applies m; fetch says to fetch m.Node's snapshot, downed that the
// node (or its previous incarnation) left.
func (v *view) apply(m presenceMsg, now time.Time) (fetch, downed bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	p := v.peers[m.Node]
	if p != nil && p.inst != m.Inst {
		v.dropLocked(m.Node) // restarted: its old clients are gone
		p, downed = nil, true
	}
	if m.Kind == kindBye {
		if p != nil {
			v.dropLocked(m.Node)
			downed = true
		}
		return false, downed
	}
	if p == nil {
		p = &peer{inst: m.Inst, clients: make(map[string]int64), syncing: true}
		v.peers[m.Node] = p
		fetch = true
	}
	p.lastSeen = now
	switch m.Kind {
	case kindHeartbeat:
		if !p.syncing && m.Seq > p.seq {
			p.syncing, fetch = true, true // an announcement was lost
		}
	case kindJoin, kindLeave:
		switch {
		case p.syncing:
			if len(p.held) < maxBuffered {
				p.held = append(p.held, m)
			} else {
				p.overflow = true
			}
		case m.Seq <= p.seq:
			// already in the snapshot
		case m.Seq == p.seq+1:
			v.announceLocked(m.Node, p, m)
		default:
			p.syncing, fetch = true, true
			p.held = append(p.held, m)
		}
	}
	return fetch, downed
}

// announceLocked applies a join or leave that is next in turn.
func (v *view) announceLocked(node string, p *peer, m presenceMsg) {
	if m.Kind == kindJoin {
		v.addLocked(node, p, m.ID, m.At)
	} else {
		v.removeLocked(node, p, m.ID)
	}
	p.seq = m.Seq
}

// fetchSnapshot asks node (incarnation inst) for its clients and installs
// them, then the announcements held meanwhile.
func (n *Node) fetchSnapshot(node, inst string) {
	ctx, cancel := context.WithTimeout(n.ctx, n.opts.HeartbeatExpiry)
	defer cancel()
	clients, seq, err := n.requestSnapshot(ctx, node, inst)
	if err != nil {
		n.log.Warn("wsrpc cluster: could not fetch a node's clients; retrying at its next heartbeat", "from", node, "err", err)
	}
	if n.view.install(node, inst, clients, seq, err == nil) {
		n.tasks.Go(func() { n.fetchSnapshot(node, inst) })
	}
}

// install replaces node's clients with a snapshot (when ok) and replays the
// announcements held; again says to fetch once more.
func (v *view) install(node, inst string, clients []member, seq uint64, ok bool) (again bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	p := v.peers[node]
	if p == nil || p.inst != inst || !p.syncing {
		return false
	}
	held := p.held
	p.held, p.syncing = nil, false
	if !ok {
		p.seq = 0 // the next heartbeat fetches again
		return false
	}
	if p.overflow {
		p.overflow = false
		p.syncing = true
		return true
	}
	fresh := make(map[string]bool, len(clients))
	for _, c := range clients {
		fresh[c.ID] = true
		v.addLocked(node, p, c.ID, c.At)
	}
	for id := range p.clients {
		if !fresh[id] {
			v.removeLocked(node, p, id)
		}
	}
	p.seq = seq
	for _, m := range held {
		switch {
		case m.Seq <= p.seq:
		case m.Seq == p.seq+1:
			v.announceLocked(node, p, m)
		default:
			p.syncing = true
			return true
		}
	}
	return false
}

// requestSnapshot fetches the snapshot of node, which may come in parts.
func (n *Node) requestSnapshot(ctx context.Context, node, inst string) ([]member, uint64, error) {
	inbox := n.nc.NewInbox()
	sub, err := n.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, 0, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := n.nc.PublishRequest(n.subj.node(node, "snapshot"), inbox, nil); err != nil {
		return nil, 0, err
	}
	var out []member
	var seq uint64
	got, parts := 0, 1
	for got < parts {
		msg, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return nil, 0, err
		}
		if len(msg.Data) == 0 && msg.Header.Get("Status") == "503" {
			return nil, 0, fmt.Errorf("%w: no node %s subscribed", ErrNodeDown, node)
		}
		var part snapshotPart
		if err := decode(msg.Data, &part, "snapshot"); err != nil {
			return nil, 0, err
		}
		if part.Inst != inst {
			return nil, 0, fmt.Errorf("wsrpc cluster: node %s restarted during its snapshot", node)
		}
		if got == 0 {
			seq, parts = part.Seq, part.Parts
			if parts < 1 || parts > 1<<16 {
				return nil, 0, fmt.Errorf("wsrpc cluster: node %s sent a snapshot of %d parts", node, parts)
			}
		}
		if len(part.Clients) > maxSnapshotClients-len(out) {
			return nil, 0, fmt.Errorf("wsrpc cluster: node %s sent a snapshot of more than %d clients", node, maxSnapshotClients)
		}
		out = append(out, part.Clients...)
		got++
	}
	return out, seq, nil
}

// onSnapshot answers a request for this node's clients, in parts that fit
// NATS's payload limit.
func (n *Node) onSnapshot(msg *natsio.Msg) {
	if msg.Reply == "" {
		return
	}
	clients, seq := n.local.snapshot()
	limit := int(n.nc.MaxPayload()) / 2
	var parts [][]member
	size, start := 0, 0
	for i, c := range clients {
		size += len(c.ID) + 40
		if size > limit {
			parts = append(parts, clients[start:i])
			start, size = i, len(c.ID)+40
		}
	}
	parts = append(parts, clients[start:])
	for i, p := range parts {
		b, _ := json.Marshal(snapshotPart{Node: n.name, Inst: n.inst, Seq: seq, Part: i, Parts: len(parts), Clients: p})
		if err := n.nc.Publish(msg.Reply, b); err != nil {
			n.log.Warn("wsrpc cluster: snapshot not sent", "err", err)
			return
		}
	}
}
