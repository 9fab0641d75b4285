// The example is a contract: two node processes on one NATS server, a
// client on node 1 calls a client on node 2 by id with tell, and a shout on
// node 2 reaches node 1's clients.
package main_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"

	"github.com/wsrpc/wsrpc-go/internal/testkit"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/examples/introduction/intro"
)

const bound = 20 * time.Second

// The NATS server requires a user and password, as a careful operator's
// does; the nodes pass them with -nats-user and WSRPC_NATS_PASSWORD, and
// share the cluster secret through WSRPC_CLUSTER_SECRET.
const (
	natsUser     = "wsrpc"
	natsPassword = "e2e-password"
	secret       = "e2e-cluster-secret-0123456789"
)

func startNATS(t *testing.T) string {
	t.Helper()
	s, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true, Username: natsUser, Password: natsPassword})
	require.NoError(t, err)
	go s.Start()
	require.True(t, s.ReadyForConnections(bound))
	t.Cleanup(s.Shutdown)
	return s.ClientURL()
}

func startNode(t *testing.T, bin, name, natsURL string) (*exec.Cmd, string) {
	t.Helper()
	addr := testkit.FreeAddr(t)
	cmd := exec.Command(bin, "-node", name, "-addr", addr, "-nats", natsURL, "-nats-user", natsUser)
	cmd.Env = append(os.Environ(), "WSRPC_NATS_PASSWORD="+natsPassword, "WSRPC_CLUSTER_SECRET="+secret)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, bound, 20*time.Millisecond, "node %s did not start listening", name)
	return cmd, "ws://" + addr + "/ws/"
}

func dial(t *testing.T, url string, events chan<- json.RawMessage) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	opts := &client.Options{}
	if events != nil {
		opts.OnEvent = func(_ *wsrpc.Conn, ev json.RawMessage) { events <- ev }
	}
	c, err := client.Dial(ctx, url, intro.ClientRoutes(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// A node without the cluster secret, or with a wrong NATS password,
// refuses to start and says why.
func TestNodeRefusesWithoutCredentials(t *testing.T) {
	bin := testkit.BuildProgram(t, t.TempDir(), "github.com/wsrpc/wsrpc-go/examples/cluster")
	natsURL := startNATS(t)
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"no secret", []string{"WSRPC_NATS_PASSWORD=" + natsPassword, "WSRPC_CLUSTER_SECRET="}, "Secret is required"},
		{"wrong password", []string{"WSRPC_NATS_PASSWORD=wrong", "WSRPC_CLUSTER_SECRET=" + secret}, "NATS is unreachable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, "-node", "x", "-addr", testkit.FreeAddr(t), "-nats", natsURL, "-nats-user", natsUser)
			cmd.Env = append(os.Environ(), tc.env...)
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "the node must exit non-zero")
			require.Contains(t, string(out), tc.want)
		})
	}
}

func TestTwoNodes(t *testing.T) {
	bin := testkit.BuildProgram(t, t.TempDir(), "github.com/wsrpc/wsrpc-go/examples/cluster")
	natsURL := startNATS(t)
	node1, url1 := startNode(t, bin, "n1", natsURL)
	node2, url2 := startNode(t, bin, "n2", natsURL)

	events := make(chan json.RawMessage, 16)
	alice := dial(t, url1+"?id=alice", events)
	bob := dial(t, url2+"?id=bob", nil)
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()

	var who string
	require.NoError(t, alice.Call(ctx, "whoami", nil, &who))
	require.Equal(t, "alice", who)

	// bob is reachable once node 2 subscribed his subject, a moment after
	// his Dial returned; until then tell says LookupError.
	var product json.Number
	require.Eventually(t, func() bool {
		err := alice.Call(ctx, "tell", map[string]any{"to": "bob", "method": "multiply", "params": map[string]int{"x": 6, "y": 7}}, &product)
		return err == nil
	}, bound, 50*time.Millisecond, "alice on n1 could not tell bob on n2")
	require.Equal(t, json.Number("42"), product)

	// tell's params are optional; a client no node has is a LookupError.
	err := alice.Call(ctx, "tell", map[string]any{"to": "nobody", "method": "ping"}, nil)
	require.ErrorIs(t, err, &wsrpc.Error{Type: "LookupError"})

	var null json.RawMessage
	require.NoError(t, bob.Call(ctx, "shout", map[string]any{"event": map[string]string{"hello": "from n2"}}, &null))
	require.Equal(t, "null", string(null))
	select {
	case ev := <-events:
		require.JSONEq(t, `{"hello":"from n2"}`, string(ev))
	case <-time.After(bound):
		t.Fatal("alice on n1 did not receive bob's shout on n2")
	}

	// A node killed: a tell to its client fails within a few seconds, with
	// a clear error, long before the call's own deadline.
	require.NoError(t, node2.Process.Signal(syscall.SIGKILL))
	_ = node2.Wait()
	start := time.Now()
	err = alice.Call(ctx, "tell", map[string]any{"to": "bob", "method": "multiply", "params": map[string]int{"x": 1, "y": 1}}, nil)
	var we *wsrpc.Error
	if err != nil && errors.As(err, &we) {
		t.Logf("tell after the kill: %v after %v", err, time.Since(start))
	}
	require.Error(t, err)
	require.True(t, errors.As(err, &we) && (we.Type == "ConnectionError" || we.Type == "LookupError"), "got %v", err)
	require.NoError(t, node1.Process.Signal(syscall.SIGTERM))
}
