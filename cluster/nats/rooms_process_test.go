package nats

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testProcess is this test binary run as another process of the test:
// it runs only one test function, which a variable of env starts.
type testProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser // the process ends when it closes
	lines chan string    // its stdout lines starting with "READY" or "DONE"
}

// startTestProcess starts the test binary running only the test named
// test, with env added to this process's environment; the process is
// killed (SIGKILL) when the test ends, if it did not end before.
func startTestProcess(t testing.TB, test string, env ...string) *testProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run", "^"+test+"$")
	cmd.Env = append(os.Environ(), env...)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	p := &testProcess{cmd: cmd, stdin: stdin, lines: make(chan string, 4)}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "READY") || strings.HasPrefix(l, "DONE") {
				p.lines <- l
			}
		}
	}()
	return p
}

// next returns the next line the process printed, within bound.
func (p *testProcess) next(t testing.TB, what string, bound time.Duration) string {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		require.True(t, ok, "the process ended before %s", what)
		return l
	case <-time.After(bound):
		t.Fatalf("the process: no %s within %v", what, bound)
		return ""
	}
}
