// This file owns the seam between the room layer and where events travel
// and history lives: Backend, which a cluster implements, and Sink, which
// the room layer gives it.

package rooms

import (
	"context"
	"time"
)

// History bounds the history a room keeps; the zero value of a field
// takes its default. A room keeps history only when Options.History
// returns one for it.
type History struct {
	// MaxEvents is the most events kept. Default DefaultHistoryEvents.
	MaxEvents int
	// MaxBytes is the most bytes of events kept. Default
	// DefaultHistoryBytes.
	MaxBytes int64
	// MaxAge is how long an event is kept. Default DefaultHistoryAge.
	MaxAge time.Duration
}

// Defaults of History.
const (
	DefaultHistoryEvents = 1000
	DefaultHistoryBytes  = 1 << 20
	DefaultHistoryAge    = 5 * time.Minute
)

// resolved returns h with its defaults.
func (h History) resolved() History {
	if h.MaxEvents <= 0 {
		h.MaxEvents = DefaultHistoryEvents
	}
	if h.MaxBytes <= 0 {
		h.MaxBytes = DefaultHistoryBytes
	}
	if h.MaxAge <= 0 {
		h.MaxAge = DefaultHistoryAge
	}
	return h
}

// Stored is one event of a room's history: the event as it was
// published (without the room member) and its position.
type Stored struct {
	Pos   Position
	Event []byte
}

// Sink is what a Backend delivers a room's events to: the room layer of
// this node, which queues them on the room's members here.
type Sink interface {
	// Deliver queues event (an encoded JSON object, from
	// wsrpc.EncodeEvent, without the room member) on the members of room
	// on this node. pos is its position, zero for a room without
	// history. For each room, Deliver must be called one event at a
	// time, in position order; it never blocks on the network, and it
	// neither keeps nor modifies event.
	Deliver(room string, pos Position, event []byte)
	// Has reports whether room has members (or connections joining it)
	// on this node. A backend keeps the history of such a room going
	// (the same epoch) however long it stays quiet.
	Has(room string) bool
}

// Backend carries events to the nodes that have members of a room and
// keeps the history of rooms that have one. Memory is the one-node
// backend; a cluster implements it over its message bus (see the
// package documentation). The room layer calls Attach once, before
// anything else.
type Backend interface {
	// Attach gives the backend the node's sink.
	Attach(s Sink)
	// Publish sends event (an encoded JSON object without the room
	// member; the backend may keep it) to every node with members of
	// room, this one through the sink. With hist non-nil the room keeps
	// history: the event is stored, under the next position, before
	// Publish returns that position; without, the position is zero.
	Publish(ctx context.Context, room string, event []byte, hist *History) (Position, error)
	// Subscribe is called when this node gets its first member of room
	// (or one starts catching up), Unsubscribe when its last leaves;
	// they alternate for each room. Events of room reach the sink only
	// between them (the one-node backend delivers to the sink always: it
	// only has this node). Called under the room's lock: quick, no call
	// back into the room layer.
	Subscribe(room string, hist *History) error
	Unsubscribe(room string)
	// Since returns the stored events of room after pos, oldest first,
	// at most about maxBytes of them but at least one when there is one,
	// and head, the position of the last stored event (its epoch is the
	// room's current one; it starts the room's history when there is
	// none). lost says that the history no longer reaches back to pos:
	// pos is of another epoch, or events after it were dropped; then
	// events is empty. A zero pos asks for nothing but head.
	Since(ctx context.Context, room string, pos Position, hist *History, maxBytes int) (events []Stored, head Position, lost bool, err error)
}
