// This file owns one room on this node: its members, the connections
// catching up on its history, and the fan-out of an event to them.

package rooms

import (
	"sync"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

// room is a room with members on this node.
type room struct {
	name string
	hist *History // nil: no history

	mu         sync.Mutex // protects the following
	members    []*wsrpc.Conn
	index      map[*wsrpc.Conn]int // each member's place in members
	catching   map[*wsrpc.Conn]*catchup
	subscribed bool // the backend was told that this node has members
}

// catchup is what a joining connection missed while its history was
// replayed: the events delivered meanwhile, queued once it is done. It
// holds at most limit bytes; past them the replay goes back to the
// history (which has the events) instead.
type catchup struct {
	limit    int // bytes
	events   []caught
	bytes    int
	overflow bool // events were dropped: replay from the history again
}

type caught struct {
	pos Position
	msg []byte // the frame, shared with the members
}

func (cu *catchup) add(pos Position, msg []byte) {
	if cu.overflow {
		return
	}
	if cu.bytes+len(msg) > cu.limit {
		cu.overflow, cu.events, cu.bytes = true, nil, 0
		return
	}
	cu.events = append(cu.events, caught{pos: pos, msg: msg})
	cu.bytes += len(msg)
}

// add makes c a member (mu held).
func (rm *room) add(c *wsrpc.Conn) {
	if rm.index == nil {
		rm.index = make(map[*wsrpc.Conn]int)
	}
	rm.index[c] = len(rm.members)
	rm.members = append(rm.members, c)
}

// remove takes c out, member or catching up, in O(1) (mu held).
func (rm *room) remove(c *wsrpc.Conn) {
	if _, ok := rm.catching[c]; ok {
		delete(rm.catching, c)
		return
	}
	i, ok := rm.index[c]
	if !ok {
		return
	}
	last := len(rm.members) - 1
	if i != last {
		moved := rm.members[last]
		rm.members[i] = moved
		rm.index[moved] = i
	}
	rm.members[last] = nil
	rm.members = rm.members[:last]
	delete(rm.index, c)
	if len(rm.members) == 0 {
		rm.members, rm.index = nil, nil
	} else if cap(rm.members) > 64 && len(rm.members) < cap(rm.members)/4 {
		rm.members = append([]*wsrpc.Conn(nil), rm.members...) // give back what the room shrank from
	}
}

// count returns the members and the connections catching up (mu held).
func (rm *room) count() int { return len(rm.members) + len(rm.catching) }

// deliverLocked queues msg on every member (encoded once, never waiting
// on a slow reader: wsrpc.EmitEncodedAll) and keeps it for those
// catching up; it returns the members that could not take it (mu held).
func (rm *room) deliverLocked(pos Position, msg []byte) (failed []*wsrpc.Conn) {
	if len(rm.members) > 0 {
		wsrpc.EmitEncodedAll(rm.members, msg, func(c *wsrpc.Conn, _ error) { failed = append(failed, c) })
	}
	for _, cu := range rm.catching {
		cu.add(pos, msg)
	}
	return failed
}
