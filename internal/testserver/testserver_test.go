package testserver

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/stretchr/testify/require"

	"github.com/wsrpc/wsrpc-go/server"
)

func TestEngines(t *testing.T) {
	all := []string{HTTP, server.EngineGoroutine}
	if runtime.GOOS == "linux" {
		all = append(all, server.EngineNetpoll)
	}
	tests := []struct {
		env     string
		want    []string
		wantErr bool
	}{
		{"", all, false},
		{HTTP, []string{HTTP}, false},
		{server.EngineGoroutine, []string{server.EngineGoroutine}, false},
		{"bogus", nil, true},
	}
	for _, tt := range tests {
		t.Run("env="+tt.env, func(t *testing.T) {
			t.Setenv(EnvEngine, tt.env)
			got, err := Engines()
			if tt.wantErr {
				require.ErrorContains(t, err, "is not an engine")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// TestForEachEngineServesEachEngine checks that every subtest's server runs
// under that subtest's engine and is reachable.
func TestForEachEngineServesEachEngine(t *testing.T) {
	t.Setenv(EnvEngine, "")
	var ran []string
	ForEachEngine(t, func(t *testing.T) {
		e := Current()
		ran = append(ran, e)
		srv := New(nil, nil)
		if e != HTTP {
			require.Equal(t, e, srv.Engine())
		}
		url := Listen(t, srv)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		nc, _, _, err := ws.Dial(ctx, url)
		require.NoError(t, err)
		_ = nc.Close()
	})
	all, err := Engines()
	require.NoError(t, err)
	require.Equal(t, all, ran)
	require.Empty(t, Current(), "no engine is current after ForEachEngine")
}
