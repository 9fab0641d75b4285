package server

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

// The id index finds every client by its id, given or random, through
// arrivals, departures (whose backward shift must keep every later entry
// of a probe run reachable) and replacements, and stays between three
// quarters and a twelfth full.
func TestIDIndex(t *testing.T) {
	for _, tt := range []struct {
		name string
		id   func(rng *rand.Rand) string // "" for a random UUID
		ops  int
	}{
		{"random uuids", func(*rand.Rand) string { return "" }, 3000},
		{"given ids, some reused", func(rng *rand.Rand) string { return "c" + strconv.Itoa(rng.IntN(300)) }, 3000},
		{"given ids, long", func(rng *rand.Rand) string { return string(make([]byte, 100)) + strconv.Itoa(rng.IntN(1000)) }, 2000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := New(nil, nil)
			rng := rand.New(rand.NewPCG(3, 4))
			live := map[string]*wsrpc.Conn{}
			var gone []*wsrpc.Conn
			for op := 0; op < tt.ops; op++ {
				if len(live) == 0 || rng.IntN(3) > 0 {
					c := wsrpc.NewConn(nopTransport{}, wsrpc.ConnConfig{ID: tt.id(rng)})
					old, _ := s.add(c)
					require.Same(t, live[c.ID()], old, "add returns the client it replaced")
					if old != nil {
						gone = append(gone, old)
					}
					live[c.ID()] = c
				} else {
					for id, c := range live { // a random one: map order
						s.remove(c)
						delete(live, id)
						gone = append(gone, c)
						break
					}
				}
				if op%101 == 0 || op == tt.ops-1 {
					require.Equal(t, len(live), s.connections())
					for id, c := range live {
						require.Same(t, c, s.Client(id), "client %q", id)
					}
					for _, c := range gone[max(0, len(gone)-20):] {
						if live[c.ID()] != c {
							s.remove(c) // a departed or replaced client: no effect
						}
					}
					require.Equal(t, len(live), s.connections())
					s.mu.Lock()
					n, size := s.ids.n, len(s.ids.slots)
					s.mu.Unlock()
					require.LessOrEqual(t, 4*n, 3*size, "at most three quarters full")
					require.LessOrEqual(t, size, max(64, 12*n), "at least a twelfth full")
				}
			}
			require.Nil(t, s.Client("absent"))
		})
	}
}

// A random connection id is a version 4 UUID, formatted the same each time
// it is asked, and appended without allocating.
func TestRandomIDIsAUUID(t *testing.T) {
	c := wsrpc.NewConn(nopTransport{}, wsrpc.ConnConfig{})
	id := c.ID()
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, id)
	require.Equal(t, id, c.ID())
	buf := make([]byte, 0, 64)
	require.Equal(t, id, string(c.AppendID(buf)))
	require.Zero(t, testing.AllocsPerRun(100, func() { _ = c.AppendID(buf[:0]) }))
	require.NotEqual(t, id, wsrpc.NewConn(nopTransport{}, wsrpc.ConnConfig{}).ID())
	given := wsrpc.NewConn(nopTransport{}, wsrpc.ConnConfig{ID: "device-7"})
	require.Equal(t, "device-7", given.ID())
	require.Equal(t, "x:device-7", string(given.AppendID([]byte("x:"))))
}
