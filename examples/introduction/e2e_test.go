// The example programs are a contract: this test builds them, runs the
// server, and checks the client's four lines, a clean exit on SIGTERM, and an
// immediate restart on the same port.
package introduction_test

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wsrpc/wsrpc-go/internal/testkit"
)

func startServer(t *testing.T, bin, addr, engine string) *exec.Cmd {
	t.Helper()
	srv := exec.Command(bin, "-addr", addr, "-engine", engine)
	require.NoError(t, srv.Start())
	t.Cleanup(func() { _ = srv.Process.Kill() })
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "the server did not start listening")
	return srv
}

func stop(t *testing.T, srv *exec.Cmd) {
	t.Helper()
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

func TestExampleServerAndClient(t *testing.T) {
	dir := t.TempDir()
	serverBin := testkit.BuildProgram(t, dir, "github.com/wsrpc/wsrpc-go/examples/introduction/server")
	clientBin := testkit.BuildProgram(t, dir, "github.com/wsrpc/wsrpc-go/examples/introduction/client")
	addr := testkit.FreeAddr(t)
	url := "ws://" + addr + "/ws/"

	// The second engine's round also proves that an immediate restart on the
	// same port works.
	for _, engine := range []string{"netpoll", "goroutine"} {
		srv := startServer(t, serverBin, addr, engine)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, clientBin, "-url", url).Output()
		cancel()
		require.NoError(t, err)
		require.Equal(t, "subtract: -8\nkv.set: true\nkv.get: \"bar\"\nmultiply_loopback: 200\n", string(out))
		stop(t, srv)
	}

	cmd := exec.Command(clientBin, "-url", url)
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "the client must fail when the server is unreachable")
	require.NotEqual(t, 0, cmd.ProcessState.ExitCode())
	require.True(t, strings.Contains(string(out), "connect to "+url), "unclear message: %s", out)
}
