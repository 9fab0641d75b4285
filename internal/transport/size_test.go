package transport

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// A goroutine-engine connection is its reader goroutine, its net.Conn, the
// engine's Conn and this one record (the stream, its session and Serve's
// state), a Task and two method values: pin its size, so that a field added
// is a decision (208 bytes is an allocation size class; one word more costs
// 16 bytes per connection).
func TestStreamSize(t *testing.T) {
	require.Equal(t, uintptr(208), unsafe.Sizeof(Stream{}), "unsafe.Sizeof(Stream{}): the goroutine engine's connection record")
}
