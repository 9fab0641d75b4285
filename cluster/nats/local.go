package nats

import (
	"encoding/json"
	"sync"
	"time"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/server"
)

// localClients is this node's own clients, as the server's hooks report
// them, and the presence sequence that numbers their announcements.
type localClients struct {
	mu    sync.Mutex // protects the following, and orders announcements
	conns map[string]localClient
	seq   uint64 // announcements published so far
}

// localClient is a connected client of this node.
type localClient struct {
	conn *wsrpc.Conn
	at   int64 // when it connected, Unix ns
}

func (l *localClients) init() { l.conns = make(map[string]localClient) }

// get returns the client with id, or nil.
func (l *localClients) get(id string) *wsrpc.Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conns[id].conn
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

// snapshot returns the local clients and the sequence they reflect.
func (l *localClients) snapshot() ([]member, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]member, 0, len(l.conns))
	for id, c := range l.conns {
		out = append(out, member{ID: id, At: c.at})
	}
	return out, l.seq
}

// joined records a new client of the server and announces it.
func (n *Node) joined(c *wsrpc.Conn) {
	at := time.Now().UnixNano()
	n.local.mu.Lock()
	defer n.local.mu.Unlock()
	n.local.conns[c.ID()] = localClient{conn: c, at: at}
	n.publishPresenceLocked(presenceMsg{Kind: kindJoin, ID: c.ID(), At: at})
}

// left forgets a client that closed, unless a newer connection with its
// id replaced it, and announces it.
func (n *Node) left(c *wsrpc.Conn) {
	n.local.mu.Lock()
	defer n.local.mu.Unlock()
	if n.local.conns[c.ID()].conn != c {
		return
	}
	delete(n.local.conns, c.ID())
	n.publishPresenceLocked(presenceMsg{Kind: kindLeave, ID: c.ID()})
}

// replacedElsewhere closes the local client id if it connected before at,
// when another node announced a connection with the same id: as on one
// server, the newer connection of an id wins.
func (n *Node) replacedElsewhere(id string, at int64, node string) {
	n.local.mu.Lock()
	lc, ok := n.local.conns[id]
	n.local.mu.Unlock()
	if ok && lc.at < at {
		n.log.Info("wsrpc cluster: client reconnected to another node; closing its older connection", "client", id, "to", node)
		_ = lc.conn.CloseWithError(server.CloseReplaced, "replaced by a newer connection with the same id on node "+node, nil)
	}
}

// publishPresence publishes a presence message of this node.
func (n *Node) publishPresence(m presenceMsg) {
	n.local.mu.Lock()
	defer n.local.mu.Unlock()
	n.publishPresenceLocked(m)
}

// publishPresenceLocked numbers m (joins and leaves advance the sequence)
// and publishes it; holding local.mu keeps the announcements in order.
func (n *Node) publishPresenceLocked(m presenceMsg) {
	if n.nc == nil {
		return // not joined yet: the first heartbeat's snapshot will tell
	}
	if m.Kind == kindJoin || m.Kind == kindLeave {
		n.local.seq++
	}
	if m.Kind == kindHeartbeat {
		m.N = len(n.local.conns)
	}
	m.Node, m.Inst, m.Seq = n.name, n.inst, n.local.seq
	b, _ := json.Marshal(m)
	if err := n.nc.Publish(n.subj.presence, b); err != nil {
		n.log.Debug("wsrpc cluster: presence not published", "kind", m.Kind, "err", err)
	}
}

// heartbeat announces that this node is alive, with its sequence.
func (n *Node) heartbeat() { n.publishPresence(presenceMsg{Kind: kindHeartbeat}) }
