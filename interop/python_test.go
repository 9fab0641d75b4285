package interop

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/examples/introduction/intro"
	"github.com/wsrpc/wsrpc-go/internal/testserver"
	"github.com/wsrpc/wsrpc-go/server"
)

// The Python reference tests are opt-in, and the only tests that CI does not
// run: wsrpc-aiohttp is published on PyPI only (Debian and npm do not have
// it), CI reaches no PyPI, and the module does not vendor other projects'
// code. They run when WSRPC_PYTHON_REFERENCE names a checkout (or an
// installed copy) of wsrpc-aiohttp and python3 has aiohttp (Debian's
// python3-aiohttp):
//
//	WSRPC_PYTHON_REFERENCE=$HOME/src/wsrpc-aiohttp go test -run Python ./interop
//
// Without it they skip with a message saying so (.ci/run prints it too);
// with WSRPC_REQUIRE_PYTHON_REFERENCE=1 they fail instead. A
// WSRPC_PYTHON_REFERENCE that names no wsrpc_aiohttp package, or a python
// without aiohttp, fails them: it is a broken set-up, not an opt-out.

// TestGoClientAgainstPythonReference runs our client against the reference
// server (python/server.py on wsrpc-aiohttp).
func TestGoClientAgainstPythonReference(t *testing.T) {
	python, ref := pythonReference(t)
	port := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, filepath.Join("python", "server.py"), strconv.Itoa(port))
	cmd.Env = append(os.Environ(), "PYTHONPATH="+ref)
	var stderr bytes.Buffer // the reference logs tracebacks of expected errors
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("reference server's log:\n%s", stderr.String())
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err, "the reference server did not start")
	require.Equal(t, "listening", strings.TrimSpace(line))

	c, err := client.Dial(ctx, "ws://127.0.0.1:"+strconv.Itoa(port)+"/ws/", intro.ClientRoutes(), nil)
	require.NoError(t, err)
	defer c.Close()

	// The introduction's four calls, on one connection.
	diff, err := wsrpc.Call[int](ctx, c, "subtract", map[string]int{"a": 1, "b": 9})
	require.NoError(t, err)
	require.Equal(t, -8, diff)
	ok, err := wsrpc.Call[bool](ctx, c, "kv.set", map[string]string{"key": "foo", "value": "bar"})
	require.NoError(t, err)
	require.True(t, ok)
	v, err := wsrpc.Call[string](ctx, c, "kv.get", map[string]string{"key": "foo"})
	require.NoError(t, err)
	require.Equal(t, "bar", v)
	product, err := wsrpc.Call[int](ctx, c, "multiply_loopback", nil)
	require.NoError(t, err, "the reference calls our client's multiply")
	require.Equal(t, 200, product)

	// Errors come back typed, as the reference serializes them.
	err = c.Call(ctx, "fail", map[string]string{"message": "nope"}, nil)
	var e *wsrpc.Error
	require.True(t, errors.As(err, &e), "got %v", err)
	require.Equal(t, "KeyError", e.Type)
	err = c.Call(ctx, "no_such_route", nil, nil)
	require.True(t, errors.As(err, &e), "got %v", err)

	// Large and concurrent calls.
	big := strings.Repeat("wsrpc ", 50_000)
	echoed, err := wsrpc.Call[string](ctx, c, "echo", map[string]string{"data": big})
	require.NoError(t, err)
	require.Equal(t, big, echoed)
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		go func() {
			got, err := wsrpc.Call[int](ctx, c, "subtract", map[string]int{"a": i, "b": 1})
			if err == nil && got != i-1 {
				err = errors.New("wrong result " + strconv.Itoa(got))
			}
			errs <- err
		}()
	}
	for i := 0; i < 50; i++ {
		require.NoError(t, testserver.Recv(t, errs, "the concurrent calls"))
	}
}

// pythonReference returns the Python interpreter (WSRPC_PYTHON, default
// python3) and the wsrpc-aiohttp checkout (WSRPC_PYTHON_REFERENCE). It skips
// the test when no checkout is named (fails with
// WSRPC_REQUIRE_PYTHON_REFERENCE=1), and fails it when the named checkout or
// the interpreter's aiohttp is missing.
func pythonReference(t *testing.T) (python, ref string) {
	t.Helper()
	ref = os.Getenv("WSRPC_PYTHON_REFERENCE")
	if ref == "" {
		const why = "the Python reference (wsrpc-aiohttp) is opt-in: it is on PyPI only, which CI cannot reach; " +
			"set WSRPC_PYTHON_REFERENCE to a wsrpc-aiohttp checkout to run it"
		if os.Getenv("WSRPC_REQUIRE_PYTHON_REFERENCE") == "1" {
			t.Fatal("WSRPC_REQUIRE_PYTHON_REFERENCE=1 but WSRPC_PYTHON_REFERENCE is unset: " + why)
		}
		t.Skip("SKIPPED: " + why)
	}
	_, err := os.Stat(filepath.Join(ref, "wsrpc_aiohttp"))
	require.NoError(t, err, "WSRPC_PYTHON_REFERENCE=%s has no wsrpc_aiohttp package: point it at the repository's root", ref)
	python = os.Getenv("WSRPC_PYTHON")
	if python == "" {
		python = "python3"
	}
	out, err := exec.Command(python, "-c", "import aiohttp").CombinedOutput()
	require.NoError(t, err, "%s cannot import aiohttp (Debian: apt-get install python3-aiohttp; or set WSRPC_PYTHON): %s", python, out)
	return python, ref
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestPythonReferenceClientAgainstGoServer runs the reference client
// (python/client.py on wsrpc-aiohttp, unmodified) against our server, under
// every engine. Like the test above, it needs WSRPC_PYTHON_REFERENCE.
func TestPythonReferenceClientAgainstGoServer(t *testing.T) {
	python, ref := pythonReference(t)
	forEachEngine(t, func(t *testing.T) { pythonReferenceClient(t, python, ref) })
}

func pythonReferenceClient(t *testing.T, python, ref string) {
	srv := testserver.New(testRoutes(t), &server.Options{})
	url := testserver.Listen(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, filepath.Join("python", "client.py"), url)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+ref)
	var stderr bytes.Buffer // the reference logs the error replies it gets
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s%s", out, stderr.String())
	require.Equal(t, `subtract: -8
kv.set: True
kv.get: bar
multiply_loopback: 200
no_such_route: ClientException NotImplementedError
echo: True
concurrent: True
`, string(out))
}
