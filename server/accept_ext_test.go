package server_test

import (
	"context"
	"encoding/json"
	"net"
	"runtime"
	"testing"

	"github.com/gobwas/ws"
	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/internal/testkit"
	"github.com/wsrpc/wsrpc-go/server"
)

// Connections waiting in the listener's backlog when Serve starts are
// accepted straight from its descriptor by the netpoll engine (all but the
// one Accept returns): each is served, and knows both addresses.
func TestNetpollServesTheBacklog(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the netpoll engine is Linux only")
	}
	reg := testRegistry(t)
	reg.MustAdd("whoami", func(ctx context.Context) []string {
		c := wsrpc.ConnFromContext(ctx)
		return []string{c.RemoteAddr().String(), c.LocalAddr().String(), c.Request().RemoteAddr}
	})
	srv := server.New(reg, &server.Options{Engine: server.EngineNetpoll, Options: wsrpc.Options{KeepaliveInterval: -1}})
	t.Cleanup(func() { _ = srv.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	const n = 16
	waiting := make([]net.Conn, n)
	for i := range waiting {
		waiting[i], err = net.Dial("tcp", ln.Addr().String()) // queued in the backlog
		require.NoError(t, err)
		t.Cleanup(func() { _ = waiting[i].Close() })
	}
	go func() { _ = srv.Serve(ln) }()
	url := "ws://" + ln.Addr().String() + "/ws/"
	for i, nc := range waiting {
		d := ws.Dialer{NetDial: func(context.Context, string, string) (net.Conn, error) { return nc, nil }}
		rc, _ := testkit.DialRawWith(t, url, d)
		rc.Send(`{"id":1,"method":"whoami"}`)
		var reply struct {
			Result []string `json:"result"`
		}
		require.NoError(t, json.Unmarshal([]byte(rc.Read()), &reply), "connection %d", i)
		require.Equal(t, []string{nc.LocalAddr().String(), nc.RemoteAddr().String(), nc.LocalAddr().String()}, reply.Result, "connection %d", i)
	}
	require.Len(t, srv.Clients(), n)
}
