package wsrpc_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/server"
)

// Emit with a deadline returns by its deadline even when the peer stopped
// reading and the event does not fit the socket's buffers: it queues the
// event instead of waiting on the write (WriteTimeout then closes the
// connection).
func TestEmitWithDeadlineDoesNotWaitOnAStalledPeer(t *testing.T) {
	forEachEngine(t, testEmitWithDeadlineDoesNotWaitOnAStalledPeer)
}

func testEmitWithDeadlineDoesNotWaitOnAStalledPeer(t *testing.T) {
	conns := make(chan *wsrpc.Conn, 1)
	_, url := newServer(t, &server.Options{Options: wsrpc.Options{
		Hooks: &wsrpc.Hooks{OnConnect: func(_ context.Context, c *wsrpc.Conn) error { conns <- c; return nil }},
	}})
	_ = dialRaw(t, url) // never reads
	c := recv(t, conns, "the server's connection")

	event := map[string]string{"event": "big", "data": strings.Repeat("a", 12<<20)}
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		done <- c.Emit(ctx, event)
	}()
	select {
	case err := <-done:
		require.NoError(t, err, "the event is queued")
		require.Less(t, time.Since(start), 5*time.Second, "Emit waited on the write")
	case <-time.After(8 * time.Second):
		t.Fatal("Emit with a 500ms deadline is still waiting on a peer that does not read")
	}
}
