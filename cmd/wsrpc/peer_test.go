package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/examples/introduction/intro"
	"github.com/wsrpc/wsrpc-go/server"
)

// call and repl can be the peer: multiply_loopback calls the CLI's
// multiply, answered by a -route.
func TestCallAnswersRoutes(t *testing.T) {
	url, _ := introServer(t, nil, false)
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		want  result
	}{
		{"no route: the server's error passes through", []string{"call", url, "multiply_loopback"}, "",
			result{exitReply, "", `NotImplementedError: Callback function "multiply" not implemented` + "\n"}},
		{"fixed answer", []string{"call", url, "multiply_loopback", "-route", "multiply=200"}, "", result{exitOK, "200\n", ""}},
		{"bare name answers null", []string{"call", "-route", "multiply", url, "multiply_loopback"}, "", result{exitOK, "null\n", ""}},
		{"exec: params on stdin, result from stdout", []string{"call", url, "multiply_loopback", "-route", "multiply=exec:cat"}, "",
			result{exitOK, `{"x":10,"y":20}` + "\n", ""}},
		{"exec: an empty output is null", []string{"call", url, "multiply_loopback", "-route", "multiply=exec:cat >/dev/null"}, "",
			result{exitOK, "null\n", ""}},
		{"exec: exit status is an error reply", []string{"call", url, "multiply_loopback", "-route", "multiply=exec:echo no way >&2; exit 3"}, "",
			result{exitReply, "", "RuntimeError: -route multiply: echo no way >&2; exit 3: exited with status 3: no way\n"}},
		{"exec: output not JSON", []string{"call", url, "multiply_loopback", "-route", "multiply=exec:echo nope"}, "",
			result{exitReply, "", "ValueError: -route multiply: echo nope: its output is not one JSON value\n"}},
		{"repl", []string{"repl", "-route", "multiply=exec:cat", url}, "multiply_loopback\nmultiply_loopback\n",
			result{exitOK, `{"x":10,"y":20}` + "\n" + `{"x":10,"y":20}` + "\n", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, cli(t, tc.stdin, tc.args...))
		})
	}
}

// listen answers the calls of its -route routes and prints them; an exec
// route is bounded in time and output.
func TestListenAnswersRoutes(t *testing.T) {
	url, srv := introServer(t, nil, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	args := []string{"listen", url, "-timeout", "2s", "-route", "fixed={\"ok\":true}", "-route", "echo=exec:cat",
		"-route", "slow=exec:sleep 5", "-route", "flood=exec:head -c 5000000 /dev/zero", "-route", "fail=exec:exit 7"}
	go func() { done <- run(ctx, args, strings.NewReader(""), &stdout, &stderr) }()
	require.Eventually(t, func() bool { return len(srv.Clients()) == 1 }, wait, 5*time.Millisecond)
	conn := srv.Clients()[0]

	cctx, ccancel := context.WithTimeout(context.Background(), wait)
	defer ccancel()
	for _, tc := range []struct {
		method, params, want string
		err                  *wsrpc.Error // Type, and Message as a substring
	}{
		{"fixed", `{"a":1}`, `{"ok":true}`, nil},
		{"echo", `{"a":[1,2]}`, `{"a":[1,2]}`, nil},
		{"slow", `{}`, "", &wsrpc.Error{Type: wsrpc.TypeTimeoutError, Message: "-route slow: sleep 5: did not finish within 2s (-timeout)"}},
		{"flood", `{}`, "", &wsrpc.Error{Type: wsrpc.TypeRuntimeError, Message: "printed more than"}},
		{"fail", `{}`, "", &wsrpc.Error{Type: wsrpc.TypeRuntimeError, Message: "exited with status 7"}},
		{"other", `{}`, "", &wsrpc.Error{Type: wsrpc.TypeNotImplemented, Message: "not implemented"}},
	} {
		t.Run(tc.method, func(t *testing.T) {
			start := time.Now()
			var res json.RawMessage
			err := conn.Call(cctx, tc.method, json.RawMessage(tc.params), &res)
			require.Less(t, time.Since(start), 4*time.Second, "bounded by -timeout")
			if tc.err == nil {
				require.NoError(t, err)
				require.JSONEq(t, tc.want, string(res))
				return
			}
			var e *wsrpc.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tc.err.Type, e.Type)
			require.Contains(t, e.Message, tc.err.Message)
		})
	}
	cancel()
	require.Equal(t, exitOK, <-done, stderr.String())
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	require.Contains(t, lines, `{"method":"fixed","params":{"a":1}}`)
	require.Contains(t, lines, `{"method":"echo","params":{"a":[1,2]}}`)
	require.Len(t, lines, 5, "each call of a -route route printed once")
}

// Params come from stdin ("-") and files (@FILE); flags may follow the URL
// and the method, and "--" ends them.
func TestParamsAndFlagsAnywhere(t *testing.T) {
	url, _ := introServer(t, nil, false)
	file := filepath.Join(t.TempDir(), "p.json")
	require.NoError(t, os.WriteFile(file, []byte("{\"a\": 7,\n \"b\": 2}\n"), 0o644))
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		want  result
	}{
		{"params from stdin", `{"a": 5, "b": 2}`, []string{"call", url, "subtract", "-"}, result{exitOK, "3\n", ""}},
		{"empty stdin sends {}", "", []string{"call", url, "ping", "-"}, result{exitOK, "{}\n", ""}},
		{"params from a file", "", []string{"call", url, "subtract", "@" + file}, result{exitOK, "5\n", ""}},
		{"repl line from a file", "subtract @" + file + "\n", []string{"repl", url}, result{exitOK, "5\n", ""}},
		{"stdin that is not an object", "5", []string{"call", url, "subtract", "-"},
			result{exitUsage, "", "wsrpc: params -: want one JSON object or array\nRun 'wsrpc help' for usage.\n"}},
		{"flags after the URL and method", "", []string{"call", url, "subtract", "-timeout", "5s", "a=5", "-v=false", "b=1"}, result{exitOK, "4\n", ""}},
		{"-- ends the flags", "", []string{"call", url, "ping", "--", "-v=1"}, result{exitOK, `{"-v":1}` + "\n", ""}},
		{"leading zeros refused", "", []string{"call", url, "subtract", "a=007", "b=1"},
			result{exitUsage, "", "wsrpc: params a=007: 007 is not a valid JSON number (no leading zeros, +, bare dot, hex or NaN); " +
				"write it as JSON (7, 0.5) or quote it to send a string: '\"007\"'\nRun 'wsrpc help' for usage.\n"}},
		{"a quoted number is a string", "", []string{"call", url, "ping", `a="007"`, "d=2024-01-02", "v=1.2.3"},
			result{exitOK, `{"a":"007","d":"2024-01-02","v":"1.2.3"}` + "\n", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, cli(t, tc.stdin, tc.args...))
		})
	}
	for _, v := range []string{"007", "+1", ".5", "1.", "1e", "0x1f", "1_000", "NaN", "-Infinity"} {
		_, err := jsonValue(v)
		require.Error(t, err, v)
	}
	for _, v := range []string{"7", "-0.5", "1e3", "abc", "2024-01-02", "1.2.3", "3rd", "-", "e5"} {
		_, err := jsonValue(v)
		require.NoError(t, err, v)
	}
}

// A connection that ends says its close code and reason once; with
// -reconnect listen goes on with a new server on the same address.
func TestListenConnectionEnds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	url := "ws://" + addr + "/ws/"
	start := func(ln net.Listener) *server.Server {
		srv := server.New(intro.ServerRoutes(), nil)
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close(); _ = ln.Close() })
		return srv
	}
	srv := start(ln)

	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), []string{"listen", url}, strings.NewReader(""), &stdout, &stderr)
	}()
	require.Eventually(t, func() bool { return len(srv.Clients()) == 1 }, wait, 5*time.Millisecond)
	require.NoError(t, srv.Clients()[0].CloseWithError(4001, "kicked by the admin", nil))
	require.Equal(t, exitUsage, <-done)
	require.Equal(t, "wsrpc: the connection ended: close code 4001, reason \"kicked by the admin\"\n", stderr.String())

	t.Run("server shut down", func(t *testing.T) {
		require.Eventually(t, func() bool { return len(srv.Clients()) == 0 }, wait, 5*time.Millisecond)
		var stderr syncBuffer
		done := make(chan int, 1)
		go func() {
			done <- run(context.Background(), []string{"listen", url}, strings.NewReader(""), &stdout, &stderr)
		}()
		require.Eventually(t, func() bool { return len(srv.Clients()) == 1 }, wait, 5*time.Millisecond)
		require.NoError(t, srv.Close())
		_ = ln.Close() // Close may have closed it
		require.Equal(t, exitUsage, <-done)
		require.Equal(t, "wsrpc: the connection ended: close code 1001 (going away)\n", stderr.String())
	})

	t.Run("no close frame", func(t *testing.T) {
		// A server that upgrades, then drops the TCP connection.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { _ = ln.Close() })
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if _, err := ws.Upgrade(c); err == nil {
				time.Sleep(50 * time.Millisecond)
			}
			_ = c.Close()
		}()
		var stderr syncBuffer
		code := run(context.Background(), []string{"listen", "ws://" + ln.Addr().String() + "/"}, strings.NewReader(""), &stdout, &stderr)
		require.Equal(t, exitUsage, code)
		require.Regexp(t, `^wsrpc: the connection ended without a close frame: (EOF|connection reset by peer)\n$`, stderr.String(), "said once, one prefix")
	})

	t.Run("during a call", func(t *testing.T) {
		url, srv := introServer(t, nil, false)
		go func() {
			require.Eventually(t, func() bool { return len(srv.Clients()) == 1 }, wait, 5*time.Millisecond)
			time.Sleep(50 * time.Millisecond) // hang is under way
			_ = srv.Clients()[0].CloseWithError(4002, "maintenance", nil)
		}()
		got := cli(t, "", "call", url, "hang")
		require.Equal(t, result{exitUsage, "", "wsrpc: hang: the connection ended: close code 4002, reason \"maintenance\"\n"}, got)
	})

	// relisten listens on addr again, once the closed server let go of it.
	relisten := func() net.Listener {
		var ln net.Listener
		require.Eventually(t, func() bool {
			var err error
			ln, err = net.Listen("tcp", addr)
			return err == nil
		}, wait, 10*time.Millisecond, "%s stays taken", addr)
		return ln
	}
	t.Run("reconnect", func(t *testing.T) {
		ln := relisten()
		srv := start(ln)
		ctx, cancel := context.WithCancelCause(context.Background())
		defer cancel(nil)
		var stderr syncBuffer
		done := make(chan int, 1)
		go func() {
			done <- run(ctx, []string{"listen", "-reconnect", url}, strings.NewReader(""), &stdout, &stderr)
		}()
		require.Eventually(t, func() bool { return len(srv.Clients()) == 1 }, wait, 5*time.Millisecond)
		require.NoError(t, srv.Close())
		_ = ln.Close() // Close may have closed it
		srv2 := start(relisten())
		require.Eventually(t, func() bool { return len(srv2.Clients()) == 1 }, wait, 5*time.Millisecond, "listen came back")
		require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "connected again") }, wait, 5*time.Millisecond)
		cancel(errInterrupted) // Ctrl-C
		require.Equal(t, exitInterrupted, <-done)
		require.Equal(t, "wsrpc: the connection ended: close code 1001 (going away); reconnecting (-reconnect)\nwsrpc: connected again\n", stderr.String())
	})
}
