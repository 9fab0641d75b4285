package server

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/wsrpc/wsrpc-go/session"
)

// The netpoll connection record is, with the engine's Conn, what an idle
// connection costs: pin the measured sizes, so that a field added to
// either is a decision (96 bytes is also an allocation size class: one
// word more costs 16 bytes per connection). The session is embedded by
// value in pconn; a handshake under way lives in its poller's map, and a
// write's deadline is computed when it starts.
func TestNetpollRecordSizes(t *testing.T) {
	require.Equal(t, uintptr(96), unsafe.Sizeof(pconn{}), "unsafe.Sizeof(pconn{}): the netpoll connection record")
	require.Equal(t, uintptr(64), unsafe.Sizeof(session.Session{}), "unsafe.Sizeof(session.Session{}): the session core inside it")
}

// A poller's slot table finds each connection by the slot its epoll events
// carry, across pages, and reuses freed slots before it grows.
func TestPollerSlots(t *testing.T) {
	p := &poller{}
	var pcs []*pconn
	for range 3*slotsPerPage + 5 {
		pc := &pconn{slot: -1}
		p.addLocked(pc)
		pcs = append(pcs, pc)
	}
	for i, pc := range pcs {
		require.Equal(t, int32(i), pc.slot)
		require.Same(t, pc, p.slotLocked(pc.slot))
	}
	gone := []*pconn{pcs[0], pcs[slotsPerPage], pcs[len(pcs)-1]}
	for _, pc := range gone {
		slot := pc.slot
		p.removeLocked(pc)
		p.removeLocked(pc) // twice: no effect
		require.Nil(t, p.slotLocked(slot))
		require.Equal(t, int32(-1), pc.slot)
	}
	used, pages := p.used, len(p.slots)
	for range gone {
		pc := &pconn{slot: -1}
		p.addLocked(pc)
		require.Same(t, pc, p.slotLocked(pc.slot))
	}
	require.Equal(t, used, p.used, "freed slots are reused")
	require.Equal(t, pages, len(p.slots))
	require.Nil(t, p.slotLocked(int32(p.used)))
	require.Nil(t, p.slotLocked(-1))
}
