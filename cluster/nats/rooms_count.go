package nats

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	natsio "github.com/nats-io/nats.go"

	"github.com/wsrpc/wsrpc-go/server"
)

// Membership across the cluster: each node keeps the members it has (as
// one node does); RoomCount and RoomMembers ask every live node with
// rooms for its part, on P.rnode.<name> (signed both ways, as every
// request between nodes), and add the parts up.

// MaxRoomPage bounds the limit of RoomMembers.
const MaxRoomPage = 1000

// Kinds of the requests of P.rnode.<name>.
const (
	kindRoomCount   = "rcount"
	kindRoomMembers = "rmembers"
)

// roomQuery is the Params of a request of P.rnode.<name>.
type roomQuery struct {
	Room  string `json:"room"`
	After string `json:"after,omitempty"`
	Limit int    `json:"limit,omitempty"`
}

// roomsNode is the subject of node name's room membership service.
func (s subjects) roomsNode(name string) string { return s.prefix + ".rnode." + name }

// RoomMember is a member of a room somewhere in the cluster: the id of
// its connection and the node that has it.
type RoomMember struct {
	ID   string
	Node string
}

// ErrNoRooms is returned by RoomCount and RoomMembers on a node whose
// Rooms was not called.
var ErrNoRooms = errors.New("wsrpc cluster: the node has no rooms; call Node.Rooms first")

// RoomCount returns how many connections of the whole cluster are in
// room, asking every live node that has rooms (Rooms.Count is this
// node's alone). A node that does not answer is reported in err; the
// count of the others is returned all the same.
func (n *Node) RoomCount(ctx context.Context, room string) (int, error) {
	b := n.roomsOf.b.Load()
	if b == nil {
		return 0, ErrNoRooms
	}
	total := b.rooms.Count(room)
	var mu sync.Mutex // protects total
	err := n.askRoomNodes(ctx, kindRoomCount, roomQuery{Room: room}, func(r *reply) {
		mu.Lock()
		total += max(r.Count, 0)
		mu.Unlock()
	})
	return total, err
}

// RoomMembers returns a page of the members of room across the
// cluster: at most limit (1 to MaxRoomPage) of them, ordered by
// connection id, those whose id comes after the cursor after ("" for
// the first page). next is the cursor of the following page, "" after
// the last. Every live node with rooms is asked for its first limit+1
// members after the cursor; a node that does not answer is reported in
// err, the members of the others are returned all the same.
func (n *Node) RoomMembers(ctx context.Context, room, after string, limit int) (page []RoomMember, next string, err error) {
	b := n.roomsOf.b.Load()
	if b == nil {
		return nil, "", ErrNoRooms
	}
	if limit <= 0 || limit > MaxRoomPage {
		return nil, "", fmt.Errorf("wsrpc cluster: a page of room members is 1 to MaxRoomPage (%d), not %d", MaxRoomPage, limit)
	}
	local, _ := b.rooms.Members(room, after, limit+1)
	for _, c := range local {
		page = append(page, RoomMember{ID: c.ID(), Node: n.name})
	}
	var mu sync.Mutex // protects page
	err = n.askRoomNodes(ctx, kindRoomMembers, roomQuery{Room: room, After: after, Limit: limit + 1}, func(r *reply) {
		mu.Lock()
		defer mu.Unlock()
		for _, id := range r.IDs[:min(len(r.IDs), limit+1)] {
			if id > after && server.ValidID(id) {
				page = append(page, RoomMember{ID: id, Node: r.Node})
			}
		}
	})
	slices.SortFunc(page, func(x, y RoomMember) int { return cmp.Or(cmp.Compare(x.ID, y.ID), cmp.Compare(x.Node, y.Node)) })
	if len(page) > limit {
		page = page[:limit]
		next = page[limit-1].ID
	}
	return page, next, err
}

// askRoomNodes sends a query of kind to every live node but this one and
// hands each answer to each. A node without rooms (no one listens on its
// subject) has no member: it is skipped.
func (n *Node) askRoomNodes(ctx context.Context, kind string, q roomQuery, each func(*reply)) error {
	ctx, cancel := n.withDeadline(ctx)
	defer cancel()
	params, _ := json.Marshal(q)
	return n.askNodes(ctx, &request{Kind: kind, Params: params}, n.subj.roomsNode, false, each)
}

// serveRoomQuery answers a signed query of another node about this
// node's members of a room.
func (b *roomBackend) serveRoomQuery(msg *natsio.Msg) {
	n := b.n
	if _, err := n.auth.verify(msg, "rnode", time.Now()); err != nil {
		n.reject(msg, err)
		return
	}
	var req request
	var q roomQuery
	if err := decode(msg.Data, &req, "request"); err != nil || json.Unmarshal(req.Params, &q) != nil {
		n.reject(msg, fmt.Errorf("wsrpc cluster: a room query that is not one: %v", err))
		return
	}
	switch req.Kind {
	case kindRoomCount:
		n.respond(msg, reply{Node: n.name, Count: b.rooms.Count(q.Room), Parts: 1})
	case kindRoomMembers:
		var ids []string
		if q.Limit > 0 {
			conns, _ := b.rooms.Members(q.Room, q.After, min(q.Limit, MaxRoomPage+1))
			for _, c := range conns {
				ids = append(ids, c.ID())
			}
		}
		n.respond(msg, reply{Node: n.name, IDs: ids, Parts: 1})
	default:
		n.reject(msg, errors.New("wsrpc cluster: a room query of an unknown kind"))
	}
}
