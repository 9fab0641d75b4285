package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/internal/testkit"
	"github.com/wsrpc/wsrpc-go/server"
)

func TestShutdownAdmitsNoNewConnection(t *testing.T) {
	forEachEngine(t, testShutdownAdmitsNoNewConnection)
}

func testShutdownAdmitsNoNewConnection(t *testing.T) {
	var connects atomic.Int32
	srv := newTestServer(testRegistry(t), &server.Options{Options: wsrpc.Options{
		KeepaliveInterval: -1,
		Hooks:             &wsrpc.Hooks{OnConnect: func(context.Context, *wsrpc.Conn) error { connects.Add(1); return nil }},
	}})
	url := startServer(t, srv)
	started, release := testkit.HoldRoute(t, srv)
	old := dialRaw(t, url)
	old.Send(`{"id":1,"method":"hold"}`)
	recv(t, started, "the held call to start")

	shutdown := make(chan error, 1)
	go func() { shutdown <- srv.Shutdown(testCtx(t)) }()
	// Shutdown has begun once the existing connection refuses new calls (it
	// stops admitting before it drains).
	refused := false
	for id := 2; !refused && id < 2000; id++ {
		old.Send(fmt.Sprintf(`{"id":%d,"method":"ping"}`, id))
		reply := old.Read()
		refused = strings.Contains(reply, `"type":"RuntimeError"`)
		if !refused {
			require.Equal(t, fmt.Sprintf(`{"id":%d,"result":{}}`, id), reply)
			time.Sleep(2 * time.Millisecond)
		}
	}
	require.True(t, refused, "the connection was not drained by Shutdown")

	// A new dialer is refused with HTTP 503 on every engine.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, err := client.Dial(ctx, url, nil, nil)
	if err == nil {
		_ = nc.Close()
	}
	require.Error(t, err, "a connection was admitted after Shutdown began")
	var he *client.HandshakeError
	require.ErrorAs(t, err, &he)
	require.Equal(t, http.StatusServiceUnavailable, he.StatusCode)
	require.Equal(t, int32(1), connects.Load(), "no new connection reached OnConnect")
	require.Len(t, srv.Clients(), 1)

	// The existing connection finishes its call, then closes going away.
	close(release)
	require.Equal(t, `{"id":1,"result":true}`, old.Read())
	require.Equal(t, ws.StatusGoingAway, old.CloseCode())
	// Echo the close, so that Shutdown need not wait out the close timeout.
	_ = ws.WriteFrame(old.NC, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusGoingAway, ""))))
	require.NoError(t, recv(t, shutdown, "Shutdown to return"))
}

func TestBroadcastReturnsWhenItsContextEnds(t *testing.T) {
	forEachEngine(t, testBroadcastReturnsWhenItsContextEnds)
}

func testBroadcastReturnsWhenItsContextEnds(t *testing.T) {
	// WriteTimeout far beyond the test, so that only ctx can end the calls.
	srv, url := newServer(t, &server.Options{
		Options: wsrpc.Options{WriteTimeout: time.Hour, MaxSendQueueBytes: 64 << 20}})
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	creg := wsrpc.NewRegistry()
	creg.MustAdd("hello", func(ctx context.Context, _ json.RawMessage) bool {
		select {
		case <-block:
		case <-ctx.Done():
		}
		return true
	})
	// One client never answers, one never reads at all: the broadcast's
	// params are larger than the socket buffers (the server's send buffer
	// is at most 4 MiB on Linux by default, the client's receive buffer
	// 4 KiB), so the first call's write to it blocks.
	// Its hello calls of earlier cases still run (holding 8 MiB each) when
	// the next one comes: let it hold them all.
	dial(t, url, creg, &client.Options{
		Options: wsrpc.Options{MaxMessageSize: 64 << 20, MaxQueuedBytes: 64 << 20}})
	stuck := dialRaw(t, url)
	require.NoError(t, stuck.NC.(*net.TCPConn).SetReadBuffer(4<<10))
	require.Eventually(t, func() bool { return len(srv.Clients()) == 2 }, 5*time.Second, time.Millisecond)
	params := map[string]string{"data": strings.Repeat("x", 8<<20)}

	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"cancelled before", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, context.Canceled},
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}, context.DeadlineExceeded},
		{"cancelled while waiting", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := tt.ctx()
			defer cancel()
			done := make(chan []server.BroadcastResult, 1)
			go func() { done <- srv.Broadcast(ctx, "hello", params) }()
			results := recv(t, done, "Broadcast to return after its context ended")
			require.Len(t, results, 2)
			for i, r := range results {
				require.ErrorIs(t, r.Err, tt.want, "client %d", i)
				require.Nil(t, r.Result, "client %d", i)
			}
		})
	}
	// The clients are still connected: a broadcast's context ends the calls,
	// not the connections.
	require.Len(t, srv.Clients(), 2)
}
