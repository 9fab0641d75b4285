package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/examples/introduction/intro"
	"github.com/wsrpc/wsrpc-go/server"
)

// wait bounds every wait of these tests.
const wait = 10 * time.Second

// token is what the authorizing server of these tests expects.
const token = "Bearer s3cret"

// introServer serves the introduction's routes, plus hang (which never
// answers), on a loopback port. With auth, upgrades need the token.
func introServer(t *testing.T, opts *server.Options, auth bool) (url string, srv *server.Server) {
	t.Helper()
	reg := intro.ServerRoutes()
	reg.MustAdd("minus", func(ctx context.Context, a, b int) int { return a - b }) // positional
	reg.MustAdd("hang", func(ctx context.Context) error {
		<-ctx.Done() // until the caller goes away
		return ctx.Err()
	})
	if opts == nil {
		opts = &server.Options{}
	}
	if auth {
		opts.Authorize = func(r *http.Request) bool { return r.Header.Get("Authorization") == token }
	}
	srv = server.New(reg, opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); _ = ln.Close() })
	return "ws://" + ln.Addr().String() + "/ws/", srv
}

// syncBuffer is a bytes.Buffer that the command and the test may use at
// once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// result is what one run printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

// cli runs the command in-process with stdin, bounded by wait.
func cli(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, strings.NewReader(stdin), &stdout, &stderr) }()
	select {
	case code := <-done:
		return result{code, stdout.String(), stderr.String()}
	case <-time.After(wait):
		t.Fatalf("wsrpc %q did not return within %v; stdout %q, stderr %q", args, wait, stdout.String(), stderr.String())
		return result{}
	}
}

func TestCall(t *testing.T) {
	url, _ := introServer(t, nil, false)
	for _, tc := range []struct {
		name   string
		args   []string
		want   result
		stderr string // a substring, when the whole text is not fixed
	}{
		{"json params", []string{"call", url, "subtract", `{"a":1,"b":9}`}, result{exitOK, "-8\n", ""}, ""},
		{"positional json params to a named route", []string{"call", url, "subtract", `[10, 3]`},
			result{exitReply, "", "TypeError: subtract() takes keyword arguments only: params must be a JSON object, not an array\n"}, ""},
		{"json array params to a positional route", []string{"call", url, "minus", `[10, 3]`}, result{exitOK, "7\n", ""}, ""},
		{"key=value params", []string{"call", url, "subtract", "a=1", "b=9"}, result{exitOK, "-8\n", ""}, ""},
		{"string value", []string{"call", url, "kv.set", "key=k", "value=bar"}, result{exitOK, "true\n", ""}, ""},
		{"no params send {}", []string{"call", url, "ping"}, result{exitOK, "{}\n", ""}, ""},
		{"object result, compact", []string{"call", url, "ping", `{ "seq" : [1, 2] }`}, result{exitOK, `{"seq":[1,2]}` + "\n", ""}, ""},
		{"flags before the command", []string{"-timeout", "5s", "call", url, "subtract", "a=5", "b=1"}, result{exitOK, "4\n", ""}, ""},
		{"error reply", []string{"call", url, "nope"},
			result{exitReply, "", `NotImplementedError: Callback function "nope" not implemented` + "\n"}, ""},
		{"error reply from the handler", []string{"call", url, "subtract", "a=x", "b=1"},
			result{exitReply, "", "TypeError: subtract() argument 'a' must be a number, not a string\n"}, ""},
		{"http scheme", []string{"call", "http" + strings.TrimPrefix(url, "ws"), "subtract", "a=2", "b=1"}, result{exitOK, "1\n", ""}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := cli(t, "", tc.args...)
			require.Equal(t, tc.want, got)
		})
	}
}

// kv.set then kv.get on one connection see the same struct instance.
func TestRepl(t *testing.T) {
	url, _ := introServer(t, nil, false)
	for _, tc := range []struct {
		name  string
		stdin string
		want  result
	}{
		{"kv.set then kv.get", "kv.set key=a value=1\nkv.get key=a\n", result{exitOK, "true\n1\n", ""}},
		{"json params with spaces, comments, blank lines",
			"# set\n\nkv.set {\"key\": \"b\", \"value\": [1, 2]}\nkv.get {\"key\": \"b\"}\n", result{exitOK, "true\n[1,2]\n", ""}},
		{"an error reply does not end the session", "nope\nsubtract a=1 b=9\n",
			result{exitReply, "-8\n", `NotImplementedError: Callback function "nope" not implemented` + "\n"}},
		{"bad params do not end the session", "subtract a\nsubtract a=1 b=9\n",
			result{exitUsage, "-8\n", `wsrpc: params "a": want one JSON object or array, key=value pairs, - (stdin) or @FILE` + "\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, cli(t, tc.stdin, "repl", url))
		})
	}
}

// -H headers reach the server's Authorize hook, given before or after the
// command name.
func TestHeadersReachAuthorize(t *testing.T) {
	url, _ := introServer(t, nil, true)
	got := cli(t, "", "call", url, "subtract", "a=1", "b=9")
	require.Equal(t, exitUsage, got.code)
	require.Empty(t, got.stdout)
	require.Contains(t, got.stderr, "HTTP status 403")
	require.Contains(t, got.stderr, "-H 'Authorization:", "the message says how to send credentials")

	require.Equal(t, result{exitOK, "-8\n", ""}, cli(t, "", "call", "-H", "Authorization: "+token, url, "subtract", "a=1", "b=9"))
	require.Equal(t, result{exitOK, "-8\n", ""}, cli(t, "", "-H", "authorization:"+token, "call", url, "subtract", "a=1", "b=9"))
}

// -timeout ends a call the server never answers, with exit status 2.
func TestTimeout(t *testing.T) {
	url, _ := introServer(t, nil, false)
	got := cli(t, "", "call", "-timeout", "200ms", url, "hang")
	require.Equal(t, result{exitUsage, "", "wsrpc: hang: no reply within 200ms (-timeout)\n"}, got)
}

// -v prints each message as it goes and comes.
func TestVerbose(t *testing.T) {
	url, _ := introServer(t, &server.Options{Options: wsrpc.Options{KeepaliveInterval: -1}}, false)
	got := cli(t, "", "call", "-v", url, "subtract", `{"a": 1, "b": 9}`)
	require.Equal(t, result{exitOK, "-8\n",
		`> {"id":3,"method":"subtract","params":{"a":1,"b":9}}` + "\n" +
			`< {"id":3,"result":-8}` + "\n"}, got)
}

// listen prints events and the calls of its -route routes, answers the
// server's keepalive pings by echoing their params (so it stays connected,
// and a Python server's latency check passes), and exits 0 when interrupted.
func TestListen(t *testing.T) {
	const interval = 20 * time.Millisecond
	url, srv := introServer(t, &server.Options{Options: wsrpc.Options{
		KeepaliveInterval: interval,
		ClientTimeout:     5 * interval, // an unanswered ping closes within 100ms
	}}, false)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"listen", "-v", "-route", "notify", "-route", "jobs.done", url}, strings.NewReader(""), &stdout, &stderr)
	}()

	var conn *wsrpc.Conn
	require.Eventually(t, func() bool {
		if cs := srv.Clients(); len(cs) == 1 {
			conn = cs[0]
		}
		return conn != nil
	}, wait, 5*time.Millisecond, "listen did not connect; stderr %q", stderr.String())
	// Ten pongs span ten keepalive intervals and many times the time in
	// which an unanswered ping would have closed the connection.
	require.Eventually(t, func() bool { return conn.Stats().Pongs >= 10 || conn.Err() != nil },
		wait, 5*time.Millisecond)
	require.NoError(t, conn.Err(), "the server dropped listen: its pings went unanswered; stderr %q", stderr.String())

	ctx2, cancel2 := context.WithTimeout(context.Background(), wait)
	defer cancel2()
	require.NoError(t, conn.Emit(ctx2, map[string]any{"topic": "news", "n": 1}))
	require.Eventually(t, func() bool { return strings.Contains(stdout.String(), "\n") }, wait, 5*time.Millisecond)
	var res json.RawMessage
	require.NoError(t, conn.Call(ctx2, "notify", map[string]int{"x": 1}, &res))
	require.Equal(t, "null", string(res), "a -route route answers null")
	require.NoError(t, conn.Call(ctx2, "jobs.done", nil, &res))
	err := conn.Call(ctx2, "other", nil, nil)
	require.ErrorIs(t, err, &wsrpc.Error{Type: wsrpc.TypeNotImplemented}, "only -route names are exposed")

	cancel()
	select {
	case code := <-done:
		require.Equal(t, exitOK, code, "stderr %q", stderr.String())
	case <-time.After(wait):
		t.Fatal("listen did not return after its context ended")
	}
	require.Equal(t, `{"n":1,"topic":"news"}`+"\n"+
		`{"method":"notify","params":{"x":1}}`+"\n"+
		`{"method":"jobs.done","params":null}`+"\n", stdout.String())

	// -v shows every ping received and its answer sent: the same id, the
	// params echoed.
	answered := 0
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		dir, msg, ok := strings.Cut(line, " ")
		require.True(t, ok && (dir == "<" || dir == ">"), "not a -v line: %q", line)
		var f struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
		}
		require.NoError(t, json.Unmarshal([]byte(msg), &f), "%q", line)
		if dir == "<" && f.Method == "ping" {
			answer := `> {"id":` + string(f.ID) + `,"result":` + string(f.Params) + `}`
			require.Contains(t, stderr.String(), answer+"\n", "ping %s was not echoed", msg)
			answered++
		}
	}
	require.GreaterOrEqual(t, answered, 10)
}

// listen reports a connection the server ends, with exit status 2.
func TestListenConnectionLost(t *testing.T) {
	url, srv := introServer(t, nil, false)
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), []string{"listen", url}, strings.NewReader(""), &stdout, &stderr)
	}()
	require.Eventually(t, func() bool { return len(srv.Clients()) == 1 }, wait, 5*time.Millisecond)
	require.NoError(t, srv.Clients()[0].Close())
	select {
	case code := <-done:
		require.Equal(t, exitUsage, code)
		require.Contains(t, stderr.String(), "wsrpc: the connection ended")
	case <-time.After(wait):
		t.Fatal("listen did not notice the connection end")
	}
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string // a substring
		stderr string // a substring
	}{
		{"help", []string{"help"}, exitOK, "Usage:", ""},
		{"-h", []string{"-h"}, exitOK, "Usage:", ""},
		{"call -h", []string{"call", "-h"}, exitOK, "Usage:", ""},
		{"no command", nil, exitUsage, "", "no command given"},
		{"unknown command", []string{"cal", "ws://x/"}, exitUsage, "", `unknown command "cal"`},
		{"call without method", []string{"call", "ws://x/"}, exitUsage, "", "call needs URL and METHOD"},
		{"unknown flag", []string{"call", "-x", "ws://x/", "m"}, exitUsage, "", "flag provided but not defined: -x"},
		{"bad header", []string{"call", "-H", "nocolon", "ws://x/", "m"}, exitUsage, "", `-H "nocolon": want 'Name: value'`},
		{"route outside call, repl, listen", []string{"describe", "-route", "r", "ws://x/"}, exitUsage, "", "-route is only for call, repl and listen"},
		{"reconnect outside listen", []string{"call", "-reconnect", "ws://x/", "m"}, exitUsage, "", "-reconnect is only for listen"},
		{"bad route answer", []string{"call", "-route", "r={", "ws://x/", "m"}, exitUsage, "", `-route "r={": the answer is not valid JSON`},
		{"empty exec route", []string{"call", "-route", "r=exec:", "ws://x/", "m"}, exitUsage, "", `exec: needs a command`},
		{"a route twice", []string{"listen", "-route", "r", "-route", "r=1", "ws://x/"}, exitUsage, "", `the route r is given twice`},
		{"help of a command", []string{"help", "listen"}, exitOK, "Usage: wsrpc listen [flags] URL", ""},
		{"help of no such command", []string{"help", "lisen"}, exitUsage, "", `help "lisen": no such command`},
		{"help of no such command, -json", []string{"help", "-json", "lisen"}, exitUsage, "", `{"kind":"usage","message":"help \"lisen\": no such command`},
		{"listen -h", []string{"listen", "ws://x/", "-h"}, exitOK, "Usage: wsrpc listen", ""},
		{"version", []string{"version"}, exitOK, "wsrpc ", ""},
		{"completion without shell", []string{"completion"}, exitUsage, "", "completion needs one shell: bash, zsh or fish"},
		{"completion of an unknown shell", []string{"completion", "tcsh"}, exitUsage, "", "completion needs one shell"},
		{"leading zeros", []string{"call", "ws://x/", "m", "a=007"}, exitUsage, "", "params a=007: 007 is not a valid JSON number"},
		{"params - in repl", []string{"call", "ws://x/", "m", "-", "b=1"}, exitUsage, "", `params "-": want one JSON object`},
		{"missing params file", []string{"call", "ws://x/", "m", "@/nonexistent/p.json"}, exitUsage, "", "params @/nonexistent/p.json: open /nonexistent/p.json"},
		{"bad scheme", []string{"call", "ftp://x/", "m"}, exitUsage, "", `use ws:// or wss://`},
		{"bad json params", []string{"call", "ws://x/", "m", `{"a":`}, exitUsage, "", "are not valid JSON"},
		{"refused connection", []string{"call", "ws://127.0.0.1:1/ws/", "m"}, exitUsage, "", "connect to ws://127.0.0.1:1/ws/"},
		{"gen without language", []string{"gen"}, exitUsage, "", "gen needs a language (ts or go) and a URL or FILE"},
		{"gen of an unknown language", []string{"gen", "py", "api.json"}, exitUsage, "", `gen "py": the languages are ts and go`},
		{"gen without source", []string{"gen", "ts", "-package", "p"}, exitUsage, "", "gen ts needs exactly one URL or FILE"},
		{"gen usage, -json", []string{"gen", "-json", "ts"}, exitUsage, "", `{"kind":"usage","message":"gen ts needs exactly one URL or FILE"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := cli(t, "", tc.args...)
			require.Equal(t, tc.code, got.code, "stderr %q", got.stderr)
			require.Contains(t, got.stdout, tc.stdout)
			require.Contains(t, got.stderr, tc.stderr)
		})
	}
}

func TestParseParams(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // "" for an error
	}{
		{nil, `{}`},
		{[]string{`{"a": 1}`}, `{"a":1}`},
		{[]string{` [1, "x"] `}, `[1,"x"]`},
		{[]string{"a=1", "b=x", "c=true", "d=null", "e=", `f="1"`, "g={\"h\": [2]}", "i=a=b"},
			`{"a":1,"b":"x","c":true,"d":null,"e":"","f":"1","g":{"h":[2]},"i":"a=b"}`},
		{[]string{"n=-8", "s=1 2"}, `{"n":-8,"s":"1 2"}`},
		{[]string{"5"}, ""},              // a scalar is neither an object nor key=value
		{[]string{"=1"}, ""},             // no key
		{[]string{"a=1", "a=2"}, ""},     // a key twice
		{[]string{`{"a":1}`, "b=2"}, ""}, // JSON only alone
	} {
		got, err := parseParams(tc.args, nil)
		if tc.want == "" {
			require.Error(t, err, "%q", tc.args)
			continue
		}
		require.NoError(t, err, "%q", tc.args)
		require.Equal(t, tc.want, string(got), "%q", tc.args)
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the command once per test run and returns its path.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the command")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wsrpc-cli-test")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "wsrpc")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("%v: %s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// The built binary, end to end: a call, an error reply, listen ended by
// SIGTERM (exit 0) and by SIGINT (exit 130, as after Ctrl-C), a call
// interrupted while it waits.
func TestBinary(t *testing.T) {
	bin := binary(t)
	url, srv := introServer(t, nil, false)

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "call", url, "subtract", `{"a":1,"b":9}`).Output()
	require.NoError(t, err)
	require.Equal(t, "-8\n", string(out))

	cmd := exec.CommandContext(ctx, bin, "call", url, "nope")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, exitReply, ee.ExitCode())
	require.Equal(t, `NotImplementedError: Callback function "nope" not implemented`+"\n", stderr.String())

	for _, tc := range []struct {
		name string
		args []string
		sig  syscall.Signal
		code int
	}{
		{"listen, SIGTERM", []string{"listen", url}, syscall.SIGTERM, exitOK},
		{"listen, SIGINT", []string{"listen", url}, syscall.SIGINT, exitInterrupted},
		{"listen -reconnect, SIGINT", []string{"listen", "-reconnect", url}, syscall.SIGINT, exitInterrupted},
		{"call waiting for its reply, SIGINT", []string{"call", url, "hang"}, syscall.SIGINT, exitInterrupted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := exec.CommandContext(ctx, bin, tc.args...)
			var stderr bytes.Buffer
			p.Stderr = &stderr
			require.NoError(t, p.Start())
			require.Eventually(t, func() bool { return len(srv.Clients()) == 1 }, wait, 10*time.Millisecond)
			time.Sleep(50 * time.Millisecond) // the call is under way
			require.NoError(t, p.Process.Signal(tc.sig))
			err := p.Wait()
			code := 0
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			}
			require.Equal(t, tc.code, code, "stderr %q", stderr.String())
			require.Eventually(t, func() bool { return len(srv.Clients()) == 0 }, wait, 10*time.Millisecond,
				"it closed its connection")
		})
	}
}

// The completion scripts parse in their shells (those installed).
func TestCompletionScripts(t *testing.T) {
	for _, sh := range []struct{ shell, check string }{
		{"bash", "bash -n"}, {"zsh", "zsh -n"}, {"fish", "fish --no-execute"},
	} {
		t.Run(sh.shell, func(t *testing.T) {
			got := cli(t, "", "completion", sh.shell)
			require.Equal(t, exitOK, got.code, got.stderr)
			require.Contains(t, got.stdout, "wsrpc")
			for _, c := range commands() {
				require.Contains(t, got.stdout, c)
			}
			shell := strings.Fields(sh.check)
			path, err := exec.LookPath(shell[0])
			if err != nil {
				t.Skipf("%s is not installed", shell[0])
			}
			script := filepath.Join(t.TempDir(), "wsrpc."+sh.shell)
			require.NoError(t, os.WriteFile(script, []byte(got.stdout), 0o644))
			out, err := exec.Command(path, append(shell[1:], script)...).CombinedOutput()
			require.NoError(t, err, "%s", out)
		})
	}
}

// serve serves reg on a loopback port; it returns the URL of its /ws/.
func serve(t *testing.T, reg *wsrpc.Registry, opts *server.Options) (string, *server.Server) {
	t.Helper()
	srv := server.New(reg, opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); _ = ln.Close() })
	return "ws://" + ln.Addr().String() + "/ws/", srv
}
