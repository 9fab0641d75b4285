// Package interop runs the unmodified JavaScript client @wsrpc/client (from
// npm, under Node) against the Go server, under every server engine. Run
// `npm ci` in interop/js first; without node or the packages the tests are
// skipped, unless CI=true or WSRPC_REQUIRE_INTEROP=1 (.ci/run sets both),
// which make them fail instead.
package interop

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/examples/introduction/intro"
	"github.com/wsrpc/wsrpc-go/internal/testserver"
	"github.com/wsrpc/wsrpc-go/server"
)

// testRoutes are the introduction's routes plus the ones interop.js needs.
func testRoutes(t *testing.T) *wsrpc.Registry {
	reg := intro.ServerRoutes()
	reg.MustAdd("subtract_positional", func(a, b json.Number) (json.Number, error) { return intro.Subtract(a, b) })
	reg.MustAdd("fail", func(p struct {
		Message string `json:"message"`
	}) error {
		return wsrpc.NewError("KeyError", p.Message)
	})
	reg.MustAdd("bytes", func() []byte { return []byte("\x00\x01hello") })
	reg.MustAdd("echo", func(p struct {
		Data string `json:"data"`
	}) string {
		return p.Data
	})
	reg.MustAdd("js_fail_loopback", func(ctx context.Context) (*wsrpc.Error, error) {
		err := wsrpc.ConnFromContext(ctx).Call(ctx, "js_fail", nil, nil)
		var e *wsrpc.Error
		if !errors.As(err, &e) {
			return nil, errors.New("expected an error reply from js_fail, got: " + errString(err))
		}
		return &wsrpc.Error{Type: e.Type, Message: e.Message}, nil
	})
	reg.MustAdd("emit_event", func(ctx context.Context, event json.RawMessage) (bool, error) {
		return true, wsrpc.ConnFromContext(ctx).Emit(ctx, event)
	})
	reg.MustAdd("pings_answered", func(ctx context.Context) uint64 {
		return wsrpc.ConnFromContext(ctx).Stats().Pongs
	})
	return reg
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

func node(t *testing.T) (nodePath, dir string) {
	t.Helper()
	dir, err := filepath.Abs("js")
	require.NoError(t, err)
	nodePath, err = exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "@wsrpc", "client"))
	if err != nil || modErr != nil {
		if required() {
			t.Fatalf("interop needs node and `npm ci` in interop/js (CI=true or WSRPC_REQUIRE_INTEROP=1 make it required): node: %v, packages: %v", err, modErr)
		}
		t.Skip("SKIPPED: node or interop/js/node_modules missing: run `npm ci` in interop/js (or `make interop-deps`)")
	}
	return nodePath, dir
}

// required reports whether a missing interop dependency fails the test
// instead of skipping it: under CI (CI=true) or WSRPC_REQUIRE_INTEROP=1.
func required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("WSRPC_REQUIRE_INTEROP") == "1"
}

// forEachEngine runs fn once per server engine, as subtests; servers that fn
// starts with newTestServer and serve use the subtest's engine.
func forEachEngine(t *testing.T, fn func(t *testing.T)) { testserver.ForEachEngine(t, fn) }

// serve starts srv on a loopback port and returns its WebSocket URL.
func serve(t *testing.T, srv *server.Server) string {
	return listen(t, srv)
}

func newTestServer(reg *wsrpc.Registry, opts *server.Options) *server.Server {
	return testserver.New(reg, opts)
}

func listen(t testing.TB, srv *server.Server) string { return testserver.Listen(t, srv) }

func runNode(t *testing.T, script, url string) string {
	t.Helper()
	nodePath, dir := node(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodePath, script, url)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "node %s failed:\n%s", script, out)
	return string(out)
}

func TestJSClientChecks(t *testing.T) {
	node(t)
	forEachEngine(t, testJSClientChecks)
}

func testJSClientChecks(t *testing.T) {
	for _, compression := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "permessage-deflate"}[compression], func(t *testing.T) {
			var closeErrs = make(chan error, 16)
			srv := newTestServer(testRoutes(t), &server.Options{
				Options: wsrpc.Options{
					KeepaliveInterval: 100 * time.Millisecond,
					Hooks:             &wsrpc.Hooks{OnClose: func(c *wsrpc.Conn, err error) { closeErrs <- err }},
					EnableCompression: compression,
				},
			})
			out := runNode(t, "interop.js", serve(t, srv))
			t.Log(out)
			require.Contains(t, out, "all checks passed")
			require.NotContains(t, out, "FAIL")
			// ws offers permessage-deflate; the server accepts it only when
			// enabled, and then the 12 KB calls above went both ways compressed.
			if compression {
				require.Contains(t, out, "extensions: permessage-deflate")
			} else {
				require.Contains(t, out, "extensions: none")
			}
			select {
			case err := <-closeErrs:
				if err != nil {
					require.NotContains(t, err.Error(), "keepalive", "the JS client was dropped by keepalive")
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the server did not see the JS client close")
			}
		})
	}
}

func TestJSIntroductionExample(t *testing.T) {
	node(t)
	forEachEngine(t, testJSIntroductionExample)
}

func testJSIntroductionExample(t *testing.T) {
	srv := newTestServer(intro.ServerRoutes(), nil)
	out := runNode(t, "introduction.js", serve(t, srv))
	require.Equal(t, "subtract: -8\nkv.set: true\nkv.get: \"bar\"\nmultiply_loopback: 200\n", out)
	require.True(t, strings.HasSuffix(out, "200\n"))
}
