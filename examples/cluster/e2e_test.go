// The example is a contract: two node processes on one NATS server, a
// client on node 1 calls a client on node 2 by id with tell, and a shout on
// node 2 reaches node 1's clients. Clients prove their ids with tokens the
// example mints; a claimed id without one is refused.
package main_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
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

var (
	buildOnce sync.Once
	binDir    string // the example's binary, built once for the tests
	binPath   string
)

// buildExample builds the example once for every test of the package (the
// link of a NATS-embedding binary takes seconds).
func buildExample(t *testing.T) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wsrpc-cluster-e2e")
		require.NoError(t, err)
		binDir = dir
		binPath = testkit.BuildProgram(t, dir, "github.com/wsrpc/wsrpc-go/examples/cluster")
	})
	require.NotEmpty(t, binPath, "the example did not build")
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// idSecret is the id secret the nodes of the tests share.
const idSecret = "WSRPC_ID_SECRET=e2e-secret-0123456789abcdef"

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

// startNode starts a node with env (idSecret, or "" for none) and extra
// flags.
func startNode(t *testing.T, bin, name, natsURL, env string, flags ...string) (*exec.Cmd, string) {
	t.Helper()
	addr := testkit.FreeAddr(t)
	args := append([]string{"-node", name, "-addr", addr, "-nats", natsURL, "-nats-user", natsUser}, flags...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env, "WSRPC_NATS_PASSWORD="+natsPassword, "WSRPC_CLUSTER_SECRET="+secret)
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

// mint runs the example as a user does to mint a token for id, with env
// (the id secret) and extra flags.
func mint(t *testing.T, bin, env, id string, flags ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-mint-token", id}, flags...)...)
	cmd.Env = append(os.Environ(), env)
	out, err := cmd.Output()
	require.NoError(t, err, "-mint-token %s", id)
	return strings.TrimSpace(string(out))
}

// withToken returns base with the query token=tok.
func withToken(base, tok string) string { return base + "?token=" + url.QueryEscape(tok) }

func dial(t *testing.T, url string, events chan<- json.RawMessage) *client.Client {
	t.Helper()
	c, err := tryDial(url, nil, events)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// tryDial dials url with header, OnEvent sending to events when not nil.
func tryDial(url string, header http.Header, events chan<- json.RawMessage) (*client.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	opts := &client.Options{Header: header}
	if events != nil {
		opts.OnEvent = func(_ *wsrpc.Conn, ev json.RawMessage) { events <- ev }
	}
	return client.Dial(ctx, url, intro.ClientRoutes(), opts)
}

// A node without the cluster secret, or with a wrong NATS password,
// refuses to start and says why.
func TestNodeRefusesWithoutCredentials(t *testing.T) {
	bin := buildExample(t)
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
	bin := buildExample(t)
	natsURL := startNATS(t)
	node1, url1 := startNode(t, bin, "n1", natsURL, idSecret)
	node2, url2 := startNode(t, bin, "n2", natsURL, idSecret)

	events := make(chan json.RawMessage, 16)
	alice := dial(t, withToken(url1, mint(t, bin, idSecret, "alice")), events)
	bob := dial(t, withToken(url2, mint(t, bin, idSecret, "bob")), nil)
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

// TestForgedIDs: a claimed id without a token that proves it (none, a
// wrong signature, an expired token, a token for another id) is refused
// with HTTP 403, and the real alice keeps her connection and her calls. A
// node run with -insecure-ids admits the forgery, which replaces alice: the
// hole the tokens close.
func TestForgedIDs(t *testing.T) {
	bin := buildExample(t)
	natsURL := startNATS(t)
	_, url1 := startNode(t, bin, "n1", natsURL, idSecret)
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()

	soon := mint(t, bin, idSecret, "alice", "-token-ttl", "1s")
	alice := dial(t, withToken(url1, mint(t, bin, idSecret, "alice")), nil)
	conn := alice.Conn()
	bobToken := mint(t, bin, idSecret, "bob")
	forged := []struct {
		name   string
		url    string
		header http.Header
	}{
		{"?id= without a token", url1 + "?id=alice", nil},
		{"X-Client-Id without a token", url1, http.Header{"X-Client-Id": {"alice"}}},
		{"another secret", withToken(url1, mint(t, bin, "WSRPC_ID_SECRET=not-the-cluster-secret-at-all", "alice")), nil},
		{"bob's token claiming alice", withToken(url1, bobToken) + "&id=alice", nil},
		{"bob's token as a bearer claiming alice", url1, http.Header{"Authorization": {"Bearer " + bobToken}, "X-Client-Id": {"alice"}}},
		{"an expired token", withToken(url1, soon), nil},
	}
	for _, f := range forged {
		t.Run(f.name, func(t *testing.T) {
			if f.name == "an expired token" {
				exp, err := strconv.ParseInt(strings.Split(soon, ".")[1], 10, 64)
				require.NoError(t, err)
				time.Sleep(time.Until(time.Unix(exp, 0)))
			}
			c, err := tryDial(f.url, f.header, nil)
			if c != nil {
				_ = c.Close()
			}
			var refused *client.HandshakeError
			require.ErrorAs(t, err, &refused)
			require.Equal(t, http.StatusForbidden, refused.StatusCode)
			var who string
			require.NoError(t, alice.Call(ctx, "whoami", nil, &who))
			require.Equal(t, "alice", who)
			require.Same(t, conn, alice.Conn(), "alice keeps her connection")
			require.NoError(t, conn.Err())
		})
	}

	// Bob, proving his id with a bearer token, reaches alice: the calls
	// meant for her still go to her.
	bob, err := tryDial(url1, http.Header{"Authorization": {"Bearer " + bobToken}}, nil)
	require.NoError(t, err)
	defer bob.Close()
	var who string
	require.NoError(t, bob.Call(ctx, "whoami", nil, &who))
	require.Equal(t, "bob", who)
	var product json.Number
	require.NoError(t, bob.Call(ctx, "tell", map[string]any{"to": "alice", "method": "multiply", "params": map[string]int{"x": 6, "y": 7}}, &product))
	require.Equal(t, json.Number("42"), product)
	require.Same(t, conn, alice.Conn())

	// The same forgery on a node that takes claimed ids replaces alice.
	_, url2 := startNode(t, bin, "n2", natsURL, "", "-insecure-ids")
	alice2 := dial(t, url2+"?id=alice", nil)
	conn2 := alice2.Conn()
	mallory := dial(t, url2+"?id=alice", nil)
	require.NoError(t, mallory.Call(ctx, "whoami", nil, &who))
	require.Equal(t, "alice", who)
	select {
	case <-conn2.Done():
	case <-time.After(bound):
		t.Fatal("with -insecure-ids a claimed id should replace its owner")
	}
}
