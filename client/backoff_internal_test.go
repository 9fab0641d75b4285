package client

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

// The backoff doubles from min to max, with jitter in the upper half.
func TestBackoff(t *testing.T) {
	const min, max = 100 * time.Millisecond, 2 * time.Second
	for _, tt := range []struct {
		n      int
		lo, hi time.Duration
	}{
		{0, 50 * time.Millisecond, 100 * time.Millisecond},
		{1, 100 * time.Millisecond, 200 * time.Millisecond},
		{2, 200 * time.Millisecond, 400 * time.Millisecond},
		{4, 800 * time.Millisecond, 1600 * time.Millisecond},
		{5, time.Second, 2 * time.Second}, // capped
		{1000, time.Second, 2 * time.Second},
	} {
		for range 50 {
			d := backoff(tt.n, min, max)
			require.GreaterOrEqual(t, d, tt.lo, "backoff(%d)", tt.n)
			require.LessOrEqual(t, d, tt.hi, "backoff(%d)", tt.n)
		}
	}
}

// Keepalive is on by default, off when negative; a nil Logger works; the
// shared settings take wsrpc's defaults; a nil registry has the ping.
func TestOptionDefaults(t *testing.T) {
	c := newClient("ws://127.0.0.1:1/", nil, nil)
	require.Equal(t, wsrpc.DefaultKeepaliveInterval, c.engine.KeepaliveInterval)
	require.NotNil(t, c.opts.Logger)
	require.Equal(t, int64(wsrpc.DefaultMaxMessageSize), c.engine.MaxMessageSize)
	require.Equal(t, wsrpc.DefaultWriteTimeout, c.engine.WriteTimeout)
	require.Equal(t, wsrpc.DefaultCompressionThreshold, c.engine.CompressionThreshold)
	require.Equal(t, wsrpc.DefaultCompressionLevel, c.engine.CompressionLevel)
	require.NotNil(t, c.reg)
	c = newClient("ws://127.0.0.1:1/", nil, &Options{Options: wsrpc.Options{KeepaliveInterval: -1}})
	require.Negative(t, c.engine.KeepaliveInterval, "negative stays negative: off")
	c = newClient("ws://127.0.0.1:1/", nil, &Options{Options: wsrpc.Options{KeepaliveInterval: time.Second}})
	require.Equal(t, time.Second, c.engine.KeepaliveInterval)
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{
		StateConnecting: "connecting", StateConnected: "connected", StateDisconnected: "disconnected",
		StateReconnecting: "reconnecting", StateClosed: "closed", State(9): "State(9)",
	} {
		require.Equal(t, want, s.String())
	}
}
