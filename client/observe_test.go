package client_test

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/server"
)

// recorder keeps what OnMessage saw, in order, per direction.
type recorder struct {
	mu             sync.Mutex
	sent, received []string
}

func (r *recorder) observe(sent bool, msg []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if sent {
		r.sent = append(r.sent, string(msg))
	} else {
		r.received = append(r.received, string(msg))
	}
}

func (r *recorder) snapshot() (sent, received []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.sent...), append([]string(nil), r.received...)
}

// OnMessage sees the client's calls and pongs as they go, and the server's
// pings and replies as they arrive, inflated when compression is on.
func TestOnMessageSeesBothDirections(t *testing.T) {
	long := strings.Repeat("all systems nominal. ", 200) // over the compression threshold
	for _, compress := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "deflate"}[compress], func(t *testing.T) {
			reg := wsrpc.NewRegistry()
			reg.MustAdd("echo", func(p struct {
				S string `json:"s"`
			}) string {
				return p.S
			})
			srv := server.New(reg, &server.Options{
				Options: wsrpc.Options{EnableCompression: compress, KeepaliveInterval: time.Hour}, // one ping, right away
			})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			go func() { _ = srv.Serve(ln) }()
			t.Cleanup(func() { _ = srv.Close() })

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			rec := &recorder{}
			c, err := client.Dial(ctx, "ws://"+ln.Addr().String()+"/", nil, &client.Options{
				OnMessage: rec.observe,
				Options:   wsrpc.Options{EnableCompression: compress, KeepaliveInterval: -1}, // only the server pings
			})
			require.NoError(t, err)
			defer c.Close()

			got, err := wsrpc.Call[string](ctx, c, "echo", map[string]string{"s": long})
			require.NoError(t, err)
			require.Equal(t, long, got)
			// The keepalive ping was answered before or after the call:
			// wait for its pong to have gone out.
			require.Eventually(t, func() bool {
				sent, _ := rec.snapshot()
				return len(sent) == 2
			}, 5*time.Second, 5*time.Millisecond, "want the call and the pong sent")

			sent, received := rec.snapshot()
			var call, reply map[string]json.RawMessage
			for _, m := range sent {
				var f map[string]json.RawMessage
				require.NoError(t, json.Unmarshal([]byte(m), &f), "sent: %s", m)
				if string(f["method"]) == `"echo"` {
					call = f
				} else {
					require.Contains(t, f, "result", "the other sent message is the pong: %s", m)
				}
			}
			require.NotNil(t, call, "the call was not observed: %q", sent)
			require.JSONEq(t, `{"s":"`+long+`"}`, string(call["params"]))

			require.Len(t, received, 2, "the ping and the reply: %q", received)
			for _, m := range received {
				var f map[string]json.RawMessage
				require.NoError(t, json.Unmarshal([]byte(m), &f), "received: %s", m)
				if _, ok := f["result"]; ok {
					reply = f
				} else {
					require.Equal(t, `"ping"`, string(f["method"]))
				}
			}
			require.NotNil(t, reply, "the reply was not observed: %q", received)
			require.Equal(t, string(call["id"]), string(reply["id"]))
			require.Equal(t, `"`+long+`"`, string(reply["result"]))
		})
	}
}
