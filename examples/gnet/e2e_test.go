// The gnet example is a contract like the introduction's server: this test
// builds it and the introduction's client, and checks the client's four
// lines and a clean exit on SIGTERM.
package main

import (
	"context"
	"net"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wsrpc/wsrpc-go/internal/testkit"
)

// waitListening waits until addr accepts connections.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "the server did not start listening")
}

func TestGnetServerAndIntroductionClient(t *testing.T) {
	dir := t.TempDir()
	serverBin := testkit.BuildProgram(t, dir, "github.com/wsrpc/wsrpc-go/examples/gnet")
	clientBin := testkit.BuildProgram(t, dir, "github.com/wsrpc/wsrpc-go/examples/introduction/client")
	addr := testkit.FreeAddr(t)

	srv := exec.Command(serverBin, "-addr", addr)
	require.NoError(t, srv.Start())
	t.Cleanup(func() { _ = srv.Process.Kill() })
	waitListening(t, addr)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	out, err := exec.CommandContext(ctx, clientBin, "-url", "ws://"+addr+"/ws/").Output()
	cancel()
	require.NoError(t, err)
	require.Equal(t, "subtract: -8\nkv.set: true\nkv.get: \"bar\"\nmultiply_loopback: 200\n", string(out))

	require.NoError(t, srv.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "the server must exit 0 on SIGTERM")
	case <-time.After(15 * time.Second):
		t.Fatal("the server did not exit after SIGTERM")
	}
}
