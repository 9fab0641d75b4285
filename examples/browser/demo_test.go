package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/examples/introduction/intro"
)

// fakeModules makes a node_modules directory holding a stand-in for the JS
// client, so the page's file routes can be tested without npm.
func fakeModules(t *testing.T) (dir string, js []byte) {
	t.Helper()
	dir = t.TempDir()
	js = []byte("/* stand-in */ (function (g) { g.WSRPC = function () {}; })(this);\n")
	dist := filepath.Join(dir, "@wsrpc", "client", "dist")
	require.NoError(t, os.MkdirAll(dist, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dist, "wsrpc.min.js"), js, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "@wsrpc", "client", "package.json"), []byte(`{"name":"@wsrpc/client"}`), 0o644))
	return dir, js
}

func get(t *testing.T, url string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, res.Header.Get("Content-Type"), string(body)
}

func TestPageAndClientFiles(t *testing.T) {
	modules, js := fakeModules(t)
	base := serveDemo(t, config{modules: modules})
	empty := serveDemo(t, config{modules: t.TempDir()})

	tests := []struct {
		name, url  string
		status     int
		typ, body  string // the Content-Type's start; a part of the body
		exactBody  string
		wantNotSee string
	}{
		{name: "the page", url: base, status: 200, typ: "text/html", body: `<script src="/static/wsrpc.min.js"`},
		{name: "its script", url: base + "app.js", status: 200, typ: "text/javascript", body: "new WSRPC("},
		{name: "its style", url: base + "style.css", status: 200, typ: "text/css", body: ".card"},
		{name: "the JS client from node_modules", url: base + "static/wsrpc.min.js", status: 200, typ: "text/javascript", exactBody: string(js)},
		{name: "nothing else of node_modules", url: base + "static/package.json", status: 404},
		{name: "no way out of static", url: base + "static/../@wsrpc/client/package.json", status: 404},
		{name: "node_modules is not served", url: base + "node_modules/@wsrpc/client/package.json", status: 404},
		{name: "no Go source", url: base + "main.go", status: 404},
		{name: "a missing client says what to do", url: empty + "static/wsrpc.min.js", status: 404, body: "run `npm ci` in examples/browser"},
		{name: "the WebSocket wants an upgrade", url: base + "ws/", status: 400, body: "WebSocket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, typ, body := get(t, tt.url)
			require.Equal(t, tt.status, status, "body: %s", body)
			require.True(t, strings.HasPrefix(typ, tt.typ), "Content-Type %q, want %q", typ, tt.typ)
			require.Contains(t, body, tt.body)
			if tt.exactBody != "" {
				require.Equal(t, tt.exactBody, body)
			}
		})
	}
}

// dial connects a Go client to the demo with the introduction's client
// routes (multiply) and returns it with the events it receives.
func dial(t *testing.T, base string, header http.Header) (*client.Client, <-chan json.RawMessage, error) {
	t.Helper()
	events := make(chan json.RawMessage, 1024)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"ws/", intro.ClientRoutes(), &client.Options{
		Header: header,
		Options: wsrpc.Options{OnEvent: func(_ *wsrpc.Conn, ev json.RawMessage) {
			select {
			case events <- append(json.RawMessage(nil), ev...):
			default: // full only after minutes of ticks
			}
		}},
	})
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, events, err
}

func call(t *testing.T, c *client.Client, method string, params any) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var res json.RawMessage
	require.NoError(t, c.Call(ctx, method, params, &res), method)
	return string(res)
}

// waitEvent returns the first event of the given type whose member key is
// want (any value when key is ""). Events report the current state, so
// earlier ones (a tab count before the last tab came) are skipped.
func waitEvent(t *testing.T, events <-chan json.RawMessage, typ, key string, want any) map[string]any {
	t.Helper()
	deadline := time.After(10 * time.Second)
	var last map[string]any
	for {
		select {
		case raw := <-events:
			var ev map[string]any
			require.NoError(t, json.Unmarshal(raw, &ev))
			if ev["type"] == typ {
				last = ev
				if key == "" || ev[key] == want {
					return ev
				}
			}
		case <-deadline:
			t.Fatalf("no %q event with %s=%v within 10s (last: %v)", typ, key, want, last)
		}
	}
}

func TestRoutesAndBroadcast(t *testing.T) {
	modules, _ := fakeModules(t)
	base := serveDemo(t, config{modules: modules, tick: 200 * time.Millisecond})
	one, events1, err := dial(t, base, nil)
	require.NoError(t, err)

	// The introduction's routes, as the page calls them.
	require.Equal(t, "-8", call(t, one, "subtract", map[string]any{"a": 1, "b": 9}))
	require.Equal(t, "true", call(t, one, "kv.set", map[string]any{"key": "foo", "value": "bar"}))
	require.Equal(t, `"bar"`, call(t, one, "kv.get", map[string]any{"key": "foo"}))
	require.Equal(t, "200", call(t, one, "multiply_loopback", nil))

	var st State
	require.NoError(t, json.Unmarshal([]byte(call(t, one, "state", nil)), &st))
	require.NotEmpty(t, st.You, "the server's id of this connection")
	require.Equal(t, int64(0), st.Counter)
	require.Equal(t, int64(1), st.Tabs)
	_, err = time.Parse(time.RFC3339, st.Time)
	require.NoError(t, err)

	// A second tab: everyone hears about it, and about its +1.
	two, events2, err := dial(t, base, nil)
	require.NoError(t, err)
	for _, events := range []<-chan json.RawMessage{events1, events2} {
		waitEvent(t, events, "tabs", "count", float64(2))
	}
	var st2 State
	require.NoError(t, json.Unmarshal([]byte(call(t, two, "state", nil)), &st2))
	require.NotEqual(t, st.You, st2.You)
	require.Equal(t, "1", call(t, two, "increment", nil))
	for _, events := range []<-chan json.RawMessage{events1, events2} {
		ev := waitEvent(t, events, "counter", "value", float64(1))
		require.Equal(t, st2.You, ev["by"], "the counter event names the tab that incremented")
	}
	tick := waitEvent(t, events1, "tick", "", nil)
	_, err = time.Parse(time.RFC3339, tick["time"].(string))
	require.NoError(t, err)

	require.NoError(t, two.Close())
	waitEvent(t, events1, "tabs", "count", float64(1))
}

// TestOriginCheck pins what the README says about pages from another port
// or behind a proxy: the server's own host is allowed, anything else only
// when listed (-allow-origin).
func TestOriginCheck(t *testing.T) {
	modules, _ := fakeModules(t)
	base := serveDemo(t, config{modules: modules})
	listed := serveDemo(t, config{modules: modules, allowedOrigins: []string{"http://localhost:3000", "demo.example.com"}})
	self := strings.TrimSuffix(base, "/")
	tests := []struct {
		name, base, origin string
		ok                 bool
	}{
		{"no Origin (not a browser)", base, "", true},
		{"the page's own origin", base, self, true},
		{"the same host on another port", base, strings.Replace(self, "127.0.0.1", "localhost", 1), false},
		{"a dev server on another port", base, "http://localhost:3000", false},
		{"that dev server, listed", listed, "http://localhost:3000", true},
		{"a proxy's public name, listed as a host", listed, "https://demo.example.com", true},
		{"another site", listed, "https://evil.example", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.origin != "" {
				h.Set("Origin", tt.origin)
			}
			_, _, err := dial(t, tt.base, h)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			var he *client.HandshakeError
			require.True(t, errors.As(err, &he), "want a refused upgrade, got %v", err)
			require.Equal(t, http.StatusForbidden, he.StatusCode)
		})
	}
}

func TestFindModules(t *testing.T) {
	modules, _ := fakeModules(t)
	got, err := findModules(modules)
	require.NoError(t, err)
	require.Equal(t, modules, got)

	_, err = findModules(t.TempDir())
	require.ErrorContains(t, err, "run `npm ci` in examples/browser")
}

func TestSplitList(t *testing.T) {
	require.Nil(t, splitList(""))
	require.Equal(t, []string{"http://localhost:3000", "app.example.com"}, splitList(" http://localhost:3000, ,app.example.com "))
}

// TestCommand runs the built command as a user would: -addr, the page, and a
// clean exit on SIGTERM.
func TestCommand(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "browser")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	modules, _ := fakeModules(t)
	srv := exec.Command(bin, "-addr", addr, "-modules", modules)
	require.NoError(t, srv.Start())
	t.Cleanup(func() { _ = srv.Process.Kill() })
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "the demo did not start listening on -addr")
	status, _, body := get(t, "http://"+addr+"/")
	require.Equal(t, 200, status)
	require.Contains(t, body, "wsrpc")

	require.NoError(t, srv.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "the demo must exit 0 on SIGTERM")
	case <-time.After(15 * time.Second):
		t.Fatal("the demo did not exit after SIGTERM")
	}
}
