package server

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

type nopTransport struct{}

func (nopTransport) WriteMessages([][]byte) error { return nil }
func (nopTransport) Close(int, string) error      { return nil }

// The client index keeps the connection order and finds every client by
// id however clients come and go, and gives back memory when most left.
func TestClientIndexKeepsOrder(t *testing.T) {
	s := New(nil, nil)
	var want []*wsrpc.Conn
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 2000; round++ {
		if len(want) == 0 || rng.IntN(3) > 0 {
			c := wsrpc.NewConn(nopTransport{}, wsrpc.ConnConfig{})
			s.add(c)
			want = append(want, c)
		} else {
			i := rng.IntN(len(want))
			s.remove(want[i])
			s.remove(want[i]) // twice: no effect
			want = slices.Delete(want, i, i+1)
		}
		if round%97 == 0 {
			require.Equal(t, want, s.Clients())
			for _, c := range want {
				require.Same(t, c, s.Client(c.ID()))
			}
		}
	}
	require.Equal(t, want, s.Clients())
	for len(want) > 0 {
		s.remove(want[0])
		want = want[1:]
	}
	require.Empty(t, s.Clients())
	require.Nil(t, s.Client("nope"))
	require.LessOrEqual(t, cap(s.order), 64, "the index shrinks once clients left")
	require.Zero(t, s.connections())
}

// BenchmarkClientChurn connects and disconnects one client while n others
// stay connected: the cost must not grow with n.
func BenchmarkClientChurn(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			s := New(nil, nil)
			for i := 0; i < n; i++ {
				s.add(wsrpc.NewConn(nopTransport{}, wsrpc.ConnConfig{ID: strconv.Itoa(i)}))
			}
			conns := make([]*wsrpc.Conn, 1024)
			for i := range conns {
				conns[i] = wsrpc.NewConn(nopTransport{}, wsrpc.ConnConfig{ID: "churn" + strconv.Itoa(i)})
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				c := conns[i%len(conns)]
				s.add(c)
				s.remove(c)
			}
		})
	}
}
