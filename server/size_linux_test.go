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
