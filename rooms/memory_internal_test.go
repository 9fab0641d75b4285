package rooms

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeSink counts deliveries and says which rooms have members.
type fakeSink struct {
	members map[string]bool
	got     int
}

func (f *fakeSink) Deliver(string, Position, []byte) { f.got++ }
func (f *fakeSink) Has(room string) bool             { return f.members[room] }

// TestMemoryKeepsQuietRoomsWithMembers: a room's history outlives its
// events only while the room has members here: a quiet room's members
// keep their epoch (no false loss), an empty quiet room is forgotten
// (its resume is Lost).
func TestMemoryKeepsQuietRoomsWithMembers(t *testing.T) {
	for _, members := range []bool{true, false} {
		t.Run(fmt.Sprint("members=", members), func(t *testing.T) {
			now := time.Unix(1000, 0)
			m := NewMemory()
			defer m.Close()
			m.now = func() time.Time { return now }
			sink := &fakeSink{members: map[string]bool{"r": members}}
			m.Attach(sink)
			hist := &History{MaxEvents: 10, MaxBytes: 1 << 20, MaxAge: time.Minute}
			pos, err := m.Publish(context.Background(), "r", []byte(`{"n":1}`), hist)
			require.NoError(t, err)
			require.Equal(t, 1, sink.got)

			now = now.Add(3 * time.Minute) // the event aged out, and the room stayed quiet
			m.sweep()
			evs, head, lost, err := m.Since(context.Background(), "r", pos, hist, 1<<10)
			require.NoError(t, err)
			require.Empty(t, evs)
			require.Equal(t, !members, lost, "head %+v", head)
			require.Equal(t, members, head == pos)
		})
	}
}
