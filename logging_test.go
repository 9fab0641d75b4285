package wsrpc_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/internal/testserver"
	"github.com/wsrpc/wsrpc-go/server"
)

// leveled passes records of level and above to h.
type leveled struct {
	*logRecords
	min slog.Level
}

func (l leveled) Enabled(_ context.Context, level slog.Level) bool { return level >= l.min }

// attrs returns the records' attributes by key, for the records with msg.
func (h *logRecords) with(msg string) []map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]string
	for _, r := range h.recs {
		if r.Message != msg {
			continue
		}
		m := map[string]string{"level": r.Level.String()}
		r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
		out = append(out, m)
	}
	return out
}

func (h *logRecords) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.recs)
}

func TestLogging(t *testing.T) {
	forEachEngine(t, testLogging)
}

func testLogging(t *testing.T) {
	for _, tc := range []struct {
		name      string
		level     slog.Level
		wantCalls int // Debug lines per call
	}{
		{"info", slog.LevelInfo, 0},
		{"debug", slog.LevelDebug, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logRecords{}
			srv := newTestServer(testRegistry(t), &server.Options{Options: wsrpc.Options{
				KeepaliveInterval: -1,
				Logger:            slog.New(leveled{logs, tc.level}),
			}})
			url := startServer(t, srv)
			ctx := testCtx(t)
			c, err := client.Dial(ctx, url, nil, &client.Options{Options: wsrpc.Options{KeepaliveInterval: -1}})
			require.NoError(t, err)
			var id string
			require.Eventually(t, func() bool { return len(logs.with("wsrpc: connection opened")) == 1 }, testserver.WaitTimeout, time.Millisecond)
			opened := logs.with("wsrpc: connection opened")[0]
			id = opened["conn"]
			require.Equal(t, "INFO", opened["level"])
			require.Equal(t, c.Conn().LocalAddr().String(), opened["remote"])
			before := logs.count()
			for range 5 {
				require.NoError(t, c.Call(ctx, "subtract", map[string]int{"a": 5, "b": 2}, nil))
			}
			calls := logs.with("wsrpc: call")
			require.Len(t, calls, 5*tc.wantCalls, "Debug lines per call")
			require.Equal(t, before+5*tc.wantCalls, logs.count(), "nothing else is logged per call")
			if tc.wantCalls > 0 {
				require.Equal(t, "subtract", calls[0]["method"])
				require.Equal(t, "ok", calls[0]["outcome"])
				require.Equal(t, id, calls[0]["conn"])
			}

			require.Error(t, c.Call(ctx, "panic", nil, nil))
			panics := logs.with("wsrpc: user code panicked")
			require.Len(t, panics, 1)
			require.Equal(t, "ERROR", panics[0]["level"])
			require.Contains(t, panics[0]["stack"], "goroutine", "the stack of the panic")
			require.Equal(t, "boom", panics[0]["panic"])

			require.NoError(t, c.Close())
			require.Eventually(t, func() bool { return len(logs.with("wsrpc: connection closed")) == 1 }, testserver.WaitTimeout, time.Millisecond)
			closed := logs.with("wsrpc: connection closed")[0]
			require.Equal(t, id, closed["conn"])
			require.Equal(t, opened["remote"], closed["remote"])
			require.Equal(t, wsrpc.ReasonNormal, closed["reason"])
			require.NotEmpty(t, closed["duration"])
		})
	}
}
