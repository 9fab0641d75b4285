package nats

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	natsio "github.com/nats-io/nats.go"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/rooms"
)

// Rooms across the cluster: a rooms.Backend over NATS. Each room has its
// own subject, P.room.<token> (the token as a client id's); a node
// subscribes to it while it has members of the room, so NATS carries a
// room's events only to the nodes that have its members. Events are
// signed as every message between nodes, and checked (a JSON object
// without "id", valid UTF-8) before they reach members.

// ErrRoomsInUse is returned by Node.Rooms when the node already has its
// rooms: keep the *rooms.Rooms it returned the first time.
var ErrRoomsInUse = errors.New("wsrpc cluster: the node already has its rooms; call Node.Rooms once and keep what it returns")

// roomBackend is the node's rooms.Backend. Every room subscription feeds
// one queue (in), read by one goroutine: events reach the sink in the
// order NATS delivered them, and a node with many rooms has one
// goroutine for them all.
type roomBackend struct {
	n     *Node
	rooms *rooms.Rooms
	sink  rooms.Sink
	in    chan *natsio.Msg

	mu   sync.Mutex // protects subs and byID
	subs map[string]*natsio.Subscription
	byID map[*natsio.Subscription]roomSub // the room of each subscription

	stream streamOf // rooms with history
}

// roomSub is what a subscription is for.
type roomSub struct {
	room string
	hist *rooms.History // nil: no history
}

// roomsOf is what Node keeps of its rooms.
type roomsOf struct {
	b atomic.Pointer[roomBackend]
}

// Rooms returns the rooms of this node, made with opts (nil for the
// defaults) and a backend over the cluster: an event emitted to a room on
// any node reaches its members on every node, and only the nodes that
// have members receive it. Closed connections leave their rooms through
// the node's own hooks (no need to chain rooms.Hooks). Register the
// rooms.join and rooms.leave routes with Routes on the server's
// registry if clients may join rooms themselves. opts.Backend is
// replaced. The Count and Members of what it returns are this node's;
// RoomCount and RoomMembers ask every node.
//
// Rooms with history (opts.History) keep it in a JetStream stream over
// the rooms' subjects (file storage), made by the first node that needs
// it: NATS must run with JetStream (EmbeddedStoreDir for the embedded
// server). Emit to such a room returns once JetStream stored the event
// (at-least-once: after a failure, emit again; clients drop duplicates
// by position); its offset is the stream sequence, its epoch the
// stream's creation time. A client resumes on any node, after the one it
// used died, within its room's own History: a resume is told lost when
// more than MaxEvents events, or more than MaxBytes of them, came after
// its position, or the next is older than MaxAge. What the stream
// stores is bounded by the largest History of the rooms used: per room,
// one event more than the largest MaxEvents, for twice the largest
// MaxAge; the whole stream, 1024 times the largest MaxBytes (when full,
// the oldest events of any room go first, and resumes from them are
// lost). Call Rooms once per node (ErrRoomsInUse).
func (n *Node) Rooms(opts *rooms.Options) (*rooms.Rooms, error) {
	var o rooms.Options
	if opts != nil {
		o = *opts
	}
	b := &roomBackend{
		n:    n,
		in:   make(chan *natsio.Msg, n.opts.MaxPending),
		subs: make(map[string]*natsio.Subscription),
		byID: make(map[*natsio.Subscription]roomSub),
	}
	o.Backend = b
	b.rooms = rooms.New(&o)
	if !n.roomsOf.b.CompareAndSwap(nil, b) {
		return nil, ErrRoomsInUse
	}
	if _, err := n.nc.Subscribe(n.subj.roomsNode(n.name), b.serveRoomQuery); err != nil {
		n.roomsOf.b.CompareAndSwap(b, nil) // not in use: a later Rooms may try again
		return nil, fmt.Errorf("wsrpc cluster: subscribe to the rooms' queries: %w", err)
	}
	n.tasks.Go(b.dispatch)
	return b.rooms, nil
}

// leave takes a closed connection out of the node's rooms.
func (r *roomsOf) leave(c *wsrpc.Conn) {
	if b := r.b.Load(); b != nil {
		b.rooms.LeaveAll(c)
	}
}

// Attach implements rooms.Backend.
func (b *roomBackend) Attach(s rooms.Sink) { b.sink = s }

// Subscribe implements rooms.Backend: the node subscribes to the room's
// subject (NATS's Subscribe only queues the request: quick).
func (b *roomBackend) Subscribe(room string, hist *rooms.History) error {
	subject := b.n.subj.room(room)
	if hist != nil {
		subject = b.n.subj.roomLive(room)
	}
	sub, err := b.n.nc.ChanSubscribe(subject, b.in)
	if err != nil {
		return fmt.Errorf("wsrpc cluster: subscribe to room %q: %w", room, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.subs[room] = sub
	b.byID[sub] = roomSub{room: room, hist: hist}
	return nil
}

// Unsubscribe implements rooms.Backend.
func (b *roomBackend) Unsubscribe(room string) {
	b.mu.Lock()
	sub := b.subs[room]
	delete(b.subs, room)
	delete(b.byID, sub)
	b.mu.Unlock()
	if sub != nil {
		_ = sub.Unsubscribe()
	}
}

// Publish implements rooms.Backend for rooms without history: the event
// goes on the room's subject, signed, and to this node's members at once;
// it returns once NATS has it, as Emit does (with the same errors).
func (b *roomBackend) Publish(ctx context.Context, room string, event []byte, hist *rooms.History) (rooms.Position, error) {
	if hist != nil {
		return b.publishStored(ctx, room, event, hist)
	}
	err := b.n.publishEvent(ctx, b.n.subj.room(room), event, func() { b.sink.Deliver(room, rooms.Position{}, event) })
	return rooms.Position{}, err
}

// dispatch hands the events of other nodes to the sink until the node
// closes.
func (b *roomBackend) dispatch() {
	for {
		select {
		case <-b.n.ctx.Done():
			return
		case msg := <-b.in:
			b.deliver(msg)
		}
	}
}

// deliver checks an event from NATS and hands it to the members here.
func (b *roomBackend) deliver(msg *natsio.Msg) {
	b.mu.Lock()
	rs, ok := b.byID[msg.Sub]
	b.mu.Unlock()
	if !ok {
		return // unsubscribed since: no member here
	}
	if rs.hist != nil {
		b.deliverStored(rs, msg)
		return
	}
	if !b.n.checkEvent(msg, "room", false) {
		return
	}
	b.n.stats.roomEvents.Add(1)
	b.sink.Deliver(rs.room, rooms.Position{}, msg.Data)
}

// checkEvent verifies an event from NATS (signed by a node, and one a
// client may see), counting what it drops; ok is false for an event to
// drop, and, unless own, for one of this node's own (queued here when
// published). class names the subscription for the replay check.
func (n *Node) checkEvent(msg *natsio.Msg, class string, own bool) (ok bool) {
	from, err := n.auth.verify(msg, class, time.Now())
	if err != nil {
		n.reject(msg, err)
		return false
	}
	if from.inst == n.inst && !own {
		return false
	}
	return n.checkEventBody(msg, from.node)
}

// checkEventBody reports whether a signed event may go to clients,
// counting it when not.
func (n *Node) checkEventBody(msg *natsio.Msg, from string) bool {
	if !validEvent(msg.Data) {
		n.stats.droppedEvents.Add(1)
		n.log.Warn("wsrpc cluster: dropped an event that is not a JSON object without id in UTF-8", "from", from, "subject", msg.Subject, "bytes", len(msg.Data))
		return false
	}
	return true
}
