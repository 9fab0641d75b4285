package introduction_test

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/stretchr/testify/require"

	"github.com/wsrpc/wsrpc-go/internal/testkit"
)

// TestExampleServerMetrics runs the built server with -metrics, makes the
// client's four calls and one to an unknown method, and reads the series
// back from http://ADDR/metrics.
func TestExampleServerMetrics(t *testing.T) {
	dir := t.TempDir()
	serverBin := testkit.BuildProgram(t, dir, "github.com/wsrpc/wsrpc-go/examples/introduction/server")
	clientBin := testkit.BuildProgram(t, dir, "github.com/wsrpc/wsrpc-go/examples/introduction/client")
	addr, metricsAddr := testkit.FreeAddr(t), testkit.FreeAddr(t)
	url := "ws://" + addr + "/ws/"
	srv := exec.Command(serverBin, "-addr", addr, "-metrics", metricsAddr)
	require.NoError(t, srv.Start())
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	scrape := func() string {
		resp, err := http.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	require.Eventually(t, func() bool { return scrape() != "" }, 10*time.Second, 20*time.Millisecond, "no metrics at http://%s/metrics", metricsAddr)
	require.Eventually(t, func() bool { return value(scrape(), `wsrpc_server_connections`) == 0 }, 10*time.Second, 20*time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, clientBin, "-url", url).Output()
	require.NoError(t, err)
	require.Equal(t, "subtract: -8\nkv.set: true\nkv.get: \"bar\"\nmultiply_loopback: 200\n", string(out))

	nc, _, _, err := ws.Dial(ctx, url)
	require.NoError(t, err)
	defer nc.Close()
	for _, m := range []string{`{"id":1,"method":"no.such.method"}`, `{"id":2,"method":"another_unknown"}`} {
		require.NoError(t, wsutil.WriteClientText(nc, []byte(m)))
		_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			reply, err := wsutil.ReadServerText(nc)
			require.NoError(t, err)
			if strings.Contains(string(reply), `"method"`) {
				continue // the server's keepalive ping: left unanswered
			}
			require.Contains(t, string(reply), "NotImplementedError")
			break
		}
	}

	var text string
	require.Eventually(t, func() bool {
		text = scrape()
		return value(text, `wsrpc_server_disconnects_total{reason="normal"}`) == 1
	}, 10*time.Second, 20*time.Millisecond, "the client's clean close is counted")
	for series, want := range map[string]float64{
		`wsrpc_server_connections`:                                                 1, // the raw connection, still open
		`wsrpc_server_connections_total`:                                           2,
		`wsrpc_server_calls_total{method="subtract",outcome="ok"}`:                 1,
		`wsrpc_server_calls_total{method="kv.set",outcome="ok"}`:                   1,
		`wsrpc_server_calls_total{method="kv.get",outcome="ok"}`:                   1,
		`wsrpc_server_calls_total{method="multiply_loopback",outcome="ok"}`:        1,
		`wsrpc_server_calls_total{method="unknown",outcome="NotImplementedError"}`: 2,
		`wsrpc_server_call_duration_seconds_count{method="subtract"}`:              1,
		`wsrpc_server_call_duration_seconds_count{method="unknown"}`:               2,
	} {
		require.Equal(t, want, value(text, series), "%s in\n%s", series, text)
	}
	require.NotContains(t, text, "no.such.method", "an unknown method gets no series of its own")
	for _, name := range []string{"wsrpc_server_messages_received_total", "wsrpc_server_messages_sent_total",
		"wsrpc_server_received_bytes_total", "wsrpc_server_sent_bytes_total"} {
		require.Greater(t, value(text, name), 0.0, name)
	}
	// The client's keepalive ping, its four calls, the server's call back
	// and its reply, the two unknown calls: at least 7 received.
	require.GreaterOrEqual(t, value(text, "wsrpc_server_messages_received_total"), 7.0)
}

// value returns the value of the series (name and labels exactly as
// exposed) in a Prometheus text exposition, or -1 when it is absent.
func value(text, series string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return -1
	}
	return v
}
