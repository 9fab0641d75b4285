package interop

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCommandAgainstPythonReference runs the wsrpc command (cmd/wsrpc)
// against the reference server: call, an error reply, and repl on one
// connection (the struct route keeps its state). Like the tests in
// python_test.go, it needs WSRPC_PYTHON_REFERENCE.
func TestCommandAgainstPythonReference(t *testing.T) {
	python, ref := pythonReference(t)
	bin := filepath.Join(t.TempDir(), "wsrpc")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/wsrpc").CombinedOutput()
	require.NoError(t, err, "%s", out)

	port := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := exec.CommandContext(ctx, python, filepath.Join("python", "server.py"), strconv.Itoa(port))
	srv.Env = append(os.Environ(), "PYTHONPATH="+ref)
	var srvLog bytes.Buffer
	srv.Stderr = &srvLog
	srvOut, err := srv.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	t.Cleanup(func() {
		_ = srv.Process.Kill()
		_ = srv.Wait()
		if t.Failed() {
			t.Logf("reference server's log:\n%s", srvLog.String())
		}
	})
	line, err := bufio.NewReader(srvOut).ReadString('\n')
	require.NoError(t, err, "the reference server did not start")
	require.Equal(t, "listening", strings.TrimSpace(line))
	url := "ws://127.0.0.1:" + strconv.Itoa(port) + "/ws/"

	wsrpc := func(stdin string, args ...string) (code int, stdout, stderr string) {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Stdin = strings.NewReader(stdin)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		if err != nil {
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee)
			return ee.ExitCode(), o.String(), e.String()
		}
		return 0, o.String(), e.String()
	}

	code, stdout, stderr := wsrpc("", "call", url, "subtract", `{"a":1,"b":9}`)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "-8\n", stdout)

	code, stdout, stderr = wsrpc("", "call", url, "fail", "message=nope")
	require.Equal(t, 1, code)
	require.Empty(t, stdout)
	require.Equal(t, "KeyError: 'nope'\n", stderr)

	code, stdout, stderr = wsrpc("kv.set key=a value=1\nkv.get key=a\n", "repl", url)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "true\n1\n", stdout)
}
