package nats

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// A NATS handler may start a goroutine while the node stops: the group
// must neither race (run under -race) nor start anything once closing.
func TestGroupRefusesOnceClosing(t *testing.T) {
	var g group
	var ran atomic.Int32
	started := make(chan bool, 100)
	go func() {
		for range 100 {
			started <- g.Go(func() { ran.Add(1) })
		}
		close(started)
	}()
	g.closeAndWait()
	atStop := ran.Load()
	accepted := int32(0)
	for ok := range started {
		if ok {
			accepted++
		}
	}
	require.False(t, g.Go(func() { ran.Add(1) }), "a closed group starts nothing")
	require.Equal(t, atStop, ran.Load(), "nothing ran after closeAndWait returned")
	require.Equal(t, accepted, ran.Load(), "every accepted goroutine ran")
}
