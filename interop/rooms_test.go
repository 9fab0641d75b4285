package interop

import (
	"bytes"
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/internal/testkit"
	"github.com/wsrpc/wsrpc-go/rooms"
	"github.com/wsrpc/wsrpc-go/server"
)

// TestJSClientResumesRoom runs the README's lines for rooms with the
// unmodified @wsrpc/client: its TCP connection is reset in the middle of
// a stream of room events, it reconnects, joins again from the last
// position it saw, and has every event once, in order.
func TestJSClientResumesRoom(t *testing.T) {
	node(t)
	forEachEngine(t, testJSClientResumesRoom)
}

func testJSClientResumesRoom(t *testing.T) {
	const total = 2000
	r := rooms.New(&rooms.Options{History: func(string) *rooms.History { return &rooms.History{MaxEvents: total} }})
	reg := wsrpc.NewRegistry()
	require.NoError(t, r.Routes(reg, func(context.Context, *wsrpc.Conn, string) error { return nil }))
	opts := &server.Options{}
	opts.Hooks = r.Hooks()
	proxy, url := testkit.NewCutProxy(t, serve(t, newTestServer(reg, opts)))

	nodePath, dir := node(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodePath, "rooms.js", url, "2000")
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	require.Eventually(t, func() bool { return r.Count("chat:1") == 1 }, 10*time.Second, time.Millisecond, "the JS client joins")
	for n := 1; n <= total; n++ {
		_, err := r.Emit(ctx, "chat:1", map[string]int{"n": n})
		require.NoError(t, err)
		switch {
		case n == total/3:
			proxy.Cut()
		case n%100 == 0:
			time.Sleep(time.Millisecond)
		}
	}
	select {
	case err := <-exited:
		t.Logf("rooms.js:\n%s", out.String())
		require.NoError(t, err)
	case <-ctx.Done():
		t.Fatalf("rooms.js did not finish:\n%s", out.String())
	}
	require.Contains(t, out.String(), "ok rooms: all 2000 events once, in order")
	require.NotContains(t, out.String(), "connects 1,", "the cut did not make the client reconnect")
}
