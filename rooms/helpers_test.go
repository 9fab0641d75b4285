package rooms_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/internal/testkit"
	"github.com/wsrpc/wsrpc-go/internal/testserver"
	"github.com/wsrpc/wsrpc-go/rooms"
	"github.com/wsrpc/wsrpc-go/server"
)

// fixture is a server with rooms, for the engine of the running
// testserver.ForEachEngine subtest.
type fixture struct {
	r         *rooms.Rooms
	srv       *server.Server
	url       string
	connected chan *wsrpc.Conn // each connection, once connected
}

// startRooms serves rooms made with opts; clients may join any room but
// those whose name starts with "secret". tweak, when given, changes the
// server's options (keepalive is off).
func startRooms(t *testing.T, opts *rooms.Options, tweak ...func(*server.Options)) *fixture {
	t.Helper()
	f := &fixture{r: rooms.New(opts), connected: make(chan *wsrpc.Conn, 64)}
	reg := wsrpc.NewRegistry()
	require.NoError(t, f.r.Routes(reg, func(_ context.Context, _ *wsrpc.Conn, room string) error {
		if strings.HasPrefix(room, "secret") {
			return errors.New("members only")
		}
		return nil
	}))
	sopts := &server.Options{Options: wsrpc.Options{KeepaliveInterval: -1}}
	sopts.Hooks = wsrpc.ChainHooks(f.r.Hooks(), &wsrpc.Hooks{OnConnect: func(_ context.Context, c *wsrpc.Conn) error {
		f.connected <- c
		return nil
	}})
	for _, fn := range tweak {
		fn(sopts)
	}
	f.srv = testserver.New(reg, sopts)
	f.url = testserver.ListenSendBuffer(t, f.srv, 16<<10) // a reader that stops shows soon
	return f
}

// dial connects a client whose events go to the returned channel, and
// returns the server's end of it too.
func (f *fixture) dial(t *testing.T, opts *client.Options) (*client.Client, *wsrpc.Conn, chan json.RawMessage) {
	t.Helper()
	evs := make(chan json.RawMessage, 1024)
	if opts == nil {
		opts = &client.Options{}
	}
	if opts.OnEvent == nil {
		opts.OnEvent = func(_ *wsrpc.Conn, ev json.RawMessage) { evs <- ev }
	}
	opts.KeepaliveInterval = -1
	c := testkit.Dial(t, f.url, nil, opts)
	return c, testserver.Recv(t, f.connected, "the server's end of the connection"), evs
}

// eventually waits until cond holds, bounded by testserver.WaitTimeout.
func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	require.Eventually(t, cond, testserver.WaitTimeout, time.Millisecond, what)
}

func ctx(t *testing.T) context.Context { return testkit.Ctx(t) }
