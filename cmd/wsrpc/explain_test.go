package main

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wsrpc/wsrpc-go/examples/introduction/intro"
	"github.com/wsrpc/wsrpc-go/server"
)

// httpPage serves a plain HTML page (no WebSocket) on a loopback port.
func httpPage(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<html><body>\n<h1>Welcome</h1>\x1b]0;pwned\a" + strings.Repeat("x", 4000) + "</body></html>"))
	}), ReadHeaderTimeout: wait}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "ws://" + ln.Addr().String() + "/"
}

// silent accepts connections and never answers.
func silent(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "ws://" + ln.Addr().String() + "/ws/"
}

// The CLI says why a connection failed and what to do: the server's
// refusal body and a hint fitting the status, TLS to a plain server, a
// timeout naming -timeout; in words and with -json.
func TestConnectFailuresExplained(t *testing.T) {
	reg := intro.ServerRoutes()
	strict, _ := serve(t, reg, &server.Options{Path: "/ws/", AllowedOrigins: []string{"https://app.example.com"}})
	authURL, _ := introServer(t, nil, true)
	root := strings.TrimSuffix(strict, "ws/")
	page := httpPage(t)
	for _, tc := range []struct {
		name  string
		args  []string
		lines []string // substrings of the lines of stderr, in order
		json  failure  // with -json; Message and Body as substrings
	}{
		{"refused origin", []string{"call", "-H", "Origin: https://evil.example", strict, "ping"},
			[]string{"refused the WebSocket upgrade with HTTP status 403 Forbidden",
				"the server said: 403: Forbidden: cross-origin WebSocket request (see Options.AllowedOrigins)",
				"hint: the server refuses this Origin: send one it allows with -H 'Origin: https://…', or add it to the server's AllowedOrigins"},
			failure{Kind: "refused", Status: 403, Body: "cross-origin", Hint: "the server refuses this Origin: send one it allows with -H 'Origin: https://…', or add it to the server's AllowedOrigins", Exit: exitUsage}},
		{"credentials", []string{"call", authURL, "ping"},
			[]string{"HTTP status 403", "the server said: 403: Forbidden", "hint: send credentials with -H, e.g. -H 'Authorization: Bearer …'"},
			failure{Kind: "refused", Status: 403, Body: "Forbidden", Hint: "send credentials with -H, e.g. -H 'Authorization: Bearer …'", Exit: exitUsage}},
		{"wrong path", []string{"call", root + "wrong/", "ping"},
			[]string{"HTTP status 404 Not Found", "the server said: 404: no WebSocket endpoint at /wrong/", "hint: no WebSocket endpoint at the path /wrong/: check the URL's path"},
			failure{Kind: "refused", Status: 404, Body: "no WebSocket endpoint at /wrong/", Hint: "no WebSocket endpoint at the path /wrong/: check the URL's path", Exit: exitUsage}},
		{"plain HTTP page", []string{"call", page, "ping"},
			[]string{"HTTP status 200 OK", `the server said: <html><body> <h1>Welcome</h1>\x1b]0;pwned\x07xxx`, "is not a WebSocket endpoint: the server answered with a plain HTTP page (text/html; charset=utf-8)"},
			failure{Kind: "refused", Status: 200, Body: "<h1>Welcome</h1>", Exit: exitUsage}},
		{"TLS to a plain wsrpc server", []string{"call", "-timeout", "1s", "wss" + strings.TrimPrefix(strict, "ws"), "ping"},
			[]string{"the TLS handshake failed", "hint: if the server does not serve TLS, use " + strict},
			failure{Kind: "tls", Message: "the TLS handshake failed", Hint: "if the server does not serve TLS, use " + strict, Exit: exitUsage}},
		{"TLS to a plain HTTP server", []string{"call", "wss" + strings.TrimPrefix(page, "ws"), "ping"},
			[]string{"the TLS handshake failed: tls: first record does not look like a TLS handshake", "hint: if the server does not serve TLS, use " + page},
			failure{Kind: "tls", Message: "the TLS handshake failed", Hint: "if the server does not serve TLS, use " + page, Exit: exitUsage}},
		{"server that never answers", []string{"call", "-timeout", "300ms", silent(t), "ping"},
			[]string{"no answer within 300ms (-timeout)", "hint: raise -timeout"},
			failure{Kind: "timeout", Message: "no answer within 300ms (-timeout)", Hint: "raise -timeout, or check that the server is up and that URL is its WebSocket endpoint", Exit: exitUsage}},
		{"nothing listening", []string{"call", "ws://127.0.0.1:1/ws/", "ping"},
			[]string{"connect to ws://127.0.0.1:1/ws/: dial tcp 127.0.0.1:1", "hint: check the host and port"},
			failure{Kind: "connect", Message: "connection refused", Hint: "check the host and port, and that the server is running", Exit: exitUsage}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			got := cli(t, "", tc.args...)
			require.Less(t, time.Since(start), wait/2, "it took the whole default timeout")
			require.Equal(t, exitUsage, got.code, got.stderr)
			require.Empty(t, got.stdout)
			requireInert(t, got.stderr)
			lines := strings.Split(strings.TrimSuffix(got.stderr, "\n"), "\n")
			require.Len(t, lines, len(tc.lines), "%q", got.stderr)
			for i, want := range tc.lines {
				require.Contains(t, lines[i], want)
				require.True(t, strings.HasPrefix(lines[i], "wsrpc: "), "%q", lines[i])
				require.NotContains(t, lines[i], "wsrpc: wsrpc", "one prefix")
			}

			got = cli(t, "", append([]string{"-json"}, tc.args...)...)
			require.Equal(t, exitUsage, got.code, got.stderr)
			var f failure
			require.NoError(t, json.Unmarshal([]byte(got.stderr), &f), "one JSON object: %q", got.stderr)
			require.Contains(t, f.Message, tc.json.Message)
			require.Contains(t, f.Body, tc.json.Body)
			require.LessOrEqual(t, len(f.Body), maxBodyShown+len("…"), "the body is bounded")
			f.Message, f.Body, tc.json.Message, tc.json.Body = "", "", "", ""
			if tc.json.Hint == "" {
				f.Hint = ""
			}
			require.Equal(t, tc.json, f)
		})
	}
}

// Errors name the route the user called and the member that is not
// exposed; a missing argument names kv.set, not the Go method.
func TestReplyErrorsNameTheRoute(t *testing.T) {
	url, _ := introServer(t, nil, false)
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"call", url, "kv.set", "key=a"}, "TypeError: kv.set() missing required argument 'value'\n"},
		{[]string{"call", url, "kv.Get", "key=a"}, "NotImplementedError: Method not implemented: kv.Get is not exposed; did you mean kv.get? (kv exposes kv.get, kv.set)\n"},
		{[]string{"call", url, "kv.init"}, "NotImplementedError: Method not implemented: kv.init is not exposed; call kv (the bare name) to run Init (kv exposes kv.get, kv.set)\n"},
		{[]string{"call", url, "kv.nope"}, "NotImplementedError: Method not implemented: kv.nope is not exposed (kv exposes kv.get, kv.set)\n"},
	} {
		t.Run(tc.args[2], func(t *testing.T) {
			require.Equal(t, result{exitReply, "", tc.stderr}, cli(t, "", tc.args...))
		})
	}
}
