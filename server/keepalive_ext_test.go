package server_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/server"
)

func TestKeepaliveAnsweredByGoClient(t *testing.T) {
	forEachEngine(t, testKeepaliveAnsweredByGoClient)
}

func testKeepaliveAnsweredByGoClient(t *testing.T) {
	srv := newTestServer(testRegistry(t), &server.Options{Options: wsrpc.Options{KeepaliveInterval: 20 * time.Millisecond}})
	url := startServer(t, srv)
	c := dial(t, url, nil, nil)
	require.Eventually(t, func() bool {
		cs := srv.Clients()
		return len(cs) == 1 && cs[0].Stats().Pongs >= 5
	}, 5*time.Second, 10*time.Millisecond)
	// A round trip over a real socket takes some microseconds at least.
	require.Positive(t, srv.Clients()[0].Stats().LastPingRTT)
	require.NoError(t, c.Call(testCtx(t), "ping", nil, nil))
}

func TestKeepaliveClosesSilentPeer(t *testing.T) {
	forEachEngine(t, testKeepaliveClosesSilentPeer)
}

func testKeepaliveClosesSilentPeer(t *testing.T) {
	srv := newTestServer(testRegistry(t), &server.Options{Options: wsrpc.Options{
		KeepaliveInterval: 50 * time.Millisecond, ClientTimeout: 50 * time.Millisecond,
	}})
	c := dialRaw(t, startServer(t, srv))
	ping := c.Read()
	require.Regexp(t, `^\{"id":2,"method":"ping","params":\{"seq":[0-9.]+\}\}$`, ping)
	require.Equal(t, ws.StatusGoingAway, c.CloseCode())
}

func TestKeepaliveClosesSlowPeer(t *testing.T) {
	forEachEngine(t, testKeepaliveClosesSlowPeer)
}

func testKeepaliveClosesSlowPeer(t *testing.T) {
	srv := newTestServer(testRegistry(t), &server.Options{Options: wsrpc.Options{
		KeepaliveInterval: time.Second, ClientTimeout: 20 * time.Millisecond,
	}})
	c := dialRaw(t, startServer(t, srv))
	var ping struct {
		ID     int             `json:"id"`
		Params json.RawMessage `json:"params"`
	}
	require.NoError(t, json.Unmarshal([]byte(c.Read()), &ping))
	time.Sleep(60 * time.Millisecond)
	c.Send(fmt.Sprintf(`{"id":%d,"result":%s}`, ping.ID, ping.Params))
	require.Equal(t, ws.StatusInternalServerError, c.CloseCode())
}

func TestKeepaliveSharedSchedulerServesEveryConnection(t *testing.T) {
	forEachEngine(t, testKeepaliveSharedSchedulerServesEveryConnection)
}

func testKeepaliveSharedSchedulerServesEveryConnection(t *testing.T) {
	srv := newTestServer(testRegistry(t), &server.Options{Options: wsrpc.Options{KeepaliveInterval: 30 * time.Millisecond}})
	url := startServer(t, srv)
	clients := make([]*client.Client, 30)
	for i := range clients {
		clients[i] = dial(t, url, nil, nil)
	}
	pongs := func(min uint64) func() bool {
		return func() bool {
			for _, c := range srv.Clients() {
				if c.Stats().Pongs < min {
					return false
				}
			}
			return true
		}
	}
	require.Eventually(t, pongs(3), 10*time.Second, 10*time.Millisecond)
	// Half leave; the others' keepalive goes on.
	for _, c := range clients[:15] {
		require.NoError(t, c.Close())
	}
	require.Eventually(t, func() bool { return len(srv.Clients()) == 15 }, 5*time.Second, 10*time.Millisecond)
	require.Eventually(t, pongs(8), 10*time.Second, 10*time.Millisecond)
}
