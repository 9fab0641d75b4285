// The browser demo in real Chromium: this test serves the demo on a loopback
// port and runs e2e.mjs, which drives Debian's chromium through
// playwright-core (both installed by .ci/run). Outside CI, without node,
// chromium or `npm ci` here, it is skipped; in CI (CI=true or
// WSRPC_REQUIRE_INTEROP=1) it fails instead.
package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wsrpc/wsrpc-go/internal/testkit"
)

// required reports whether a missing browser tool must fail the test.
func required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("WSRPC_REQUIRE_INTEROP") == "1"
}

// browserTools returns node and the chromium binary, or skips (fails in CI)
// naming what is missing and how to get it.
func browserTools(t *testing.T) (node, chromium string) {
	t.Helper()
	chromium = os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	var missing []string
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node (apt-get install nodejs)")
	}
	if _, err := os.Stat(chromium); err != nil {
		missing = append(missing, chromium+" (apt-get install chromium)")
	}
	for _, pkg := range []string{"@wsrpc/client", "playwright-core"} {
		if _, err := os.Stat(filepath.Join("node_modules", pkg, "package.json")); err != nil {
			missing = append(missing, pkg+" (npm ci in examples/browser)")
		}
	}
	if len(missing) > 0 {
		if required() {
			t.Fatalf("the Chromium test needs %v", missing)
		}
		t.Skipf("the Chromium test needs %v; `bash .ci/run` installs them", missing)
	}
	return node, chromium
}

// serveDemo runs the demo on a free loopback port until the test ends and
// returns its base URL.
func serveDemo(t *testing.T, cfg config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, cfg, nil) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err, "the demo must shut down cleanly")
		case <-time.After(15 * time.Second):
			t.Error("the demo did not shut down")
		}
	})
	return "http://" + ln.Addr().String() + "/"
}

// offlineProxy puts a TCP proxy in front of the demo at url and returns
// the page's URL through it and a control URL: a POST to it resets the
// proxy's connections and refuses new ones for ?ms= milliseconds, so that
// a tab loaded through the proxy goes offline while the others stay.
func offlineProxy(t *testing.T, url string) (proxyURL, controlURL string) {
	t.Helper()
	proxy, ws := testkit.NewCutProxy(t, "ws://"+strings.TrimPrefix(url, "http://"))
	mux := http.NewServeMux()
	mux.HandleFunc("POST /offline", func(w http.ResponseWriter, r *http.Request) {
		ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
		if err != nil || ms <= 0 || ms > 10000 {
			http.Error(w, "ms: 1 to 10000", http.StatusBadRequest)
			return
		}
		proxy.SetRefuse(true)
		proxy.Cut()
		time.AfterFunc(time.Duration(ms)*time.Millisecond, func() { proxy.SetRefuse(false) })
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := &http.Server{Handler: mux}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	return "http://" + strings.TrimSuffix(strings.TrimPrefix(ws, "ws://"), "ws/"), "http://" + ln.Addr().String() + "/offline"
}

func TestBrowserDemoInChromium(t *testing.T) {
	node, chromium := browserTools(t)
	modules, err := filepath.Abs("node_modules")
	require.NoError(t, err)
	url := serveDemo(t, config{modules: modules})
	proxyURL, controlURL := offlineProxy(t, url)

	require.NoError(t, os.MkdirAll("artifacts", 0o755))
	shot, err := filepath.Abs(filepath.Join("artifacts", "demo.png"))
	require.NoError(t, err)
	_ = os.Remove(shot)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "e2e.mjs", url, shot, proxyURL, controlURL)
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	out, err := cmd.CombinedOutput()
	t.Logf("e2e.mjs:\n%s", out)
	require.NoError(t, err, "the page did not pass its checks in Chromium (screenshot: %s)", shot)
	require.Contains(t, string(out), "ok   tab 2 received the counter tab 1 incremented")
	require.Contains(t, string(out), "ok   tab 3 caught up the feed it missed")

	png, err := os.ReadFile(shot)
	require.NoError(t, err, "e2e.mjs must save a screenshot")
	require.True(t, bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")), "the screenshot is not a PNG")
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))
}
