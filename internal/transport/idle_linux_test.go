package transport

import (
	"io"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/internal/race"
	"github.com/wsrpc/wsrpc-go/session"
)

// An idle connection of the goroutine engine on a bare socket holds no read
// buffer: one is borrowed when bytes arrive and given back before the
// reader waits again. The peers take turns, so buffers handed back are
// reused; were each idle reader holding one, the pool would have made a
// buffer per connection.
func TestIdleSocketHoldsNoReadBuffer(t *testing.T) {
	const conns = 50
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // the pool keeps what was put back
	before := readBufsMade.Load()

	peers := serveConns(t, conns, &session.Config{Role: wsrpc.RoleServer}, nil)
	ping := []byte{0x89, 0x80, 1, 2, 3, 4} // masked, empty
	for round := range 3 {
		for i, peer := range peers {
			_, err := peer.Write(ping)
			require.NoError(t, err)
			pong := make([]byte, 2)
			_, err = io.ReadFull(peer, pong)
			require.NoError(t, err, "round %d, connection %d", round, i)
			require.Equal(t, []byte{0x8a, 0}, pong)
		}
	}
	if race.Enabled {
		return // the race detector makes sync.Pool drop what was put back
	}
	made := readBufsMade.Load() - before
	require.Less(t, made, int64(conns/5),
		"the pool made %d read buffers for %d connections taking turns: idle readers hold theirs", made, conns)
}
