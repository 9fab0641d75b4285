package wsrpc

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Resolved is the one place the defaults are decided: a zero field takes its
// default, a set one stays, and a negative KeepaliveInterval stays off.
func TestOptionsResolved(t *testing.T) {
	tests := []struct {
		name string
		in   *Options
		want func(t *testing.T, r *Options)
	}{
		{"nil", nil, func(t *testing.T, r *Options) {
			require.Equal(t, int64(DefaultMaxMessageSize), r.MaxMessageSize)
			require.Equal(t, DefaultWriteTimeout, r.WriteTimeout)
			require.False(t, r.EnableCompression)
			require.Equal(t, DefaultCompressionThreshold, r.CompressionThreshold)
			require.Equal(t, DefaultCompressionLevel, r.CompressionLevel)
			require.Equal(t, DefaultKeepaliveInterval, r.KeepaliveInterval, "zero is on, as on the server and the client")
			require.Equal(t, DefaultClientTimeout, r.ClientTimeout)
			require.NotNil(t, r.Logger)
		}},
		{"set", &Options{MaxMessageSize: 1 << 10, WriteTimeout: time.Second, CompressionThreshold: 64, CompressionLevel: 9,
			KeepaliveInterval: time.Minute}, func(t *testing.T, r *Options) {
			require.Equal(t, int64(1<<10), r.MaxMessageSize)
			require.Equal(t, time.Second, r.WriteTimeout)
			require.Equal(t, 64, r.CompressionThreshold)
			require.Equal(t, 9, r.CompressionLevel)
			require.Equal(t, time.Minute, r.KeepaliveInterval)
		}},
		{"keepalive off", &Options{KeepaliveInterval: -1}, func(t *testing.T, r *Options) {
			require.Negative(t, r.KeepaliveInterval)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.in.Resolved()
			tt.want(t, r)
			require.Same(t, r, r.Resolved(), "a resolved copy is shared, not copied again")
		})
	}
}

// A Conn made with NewConn pings its peer by default, as the server and
// the client do; a negative KeepaliveInterval turns that off.
func TestConnKeepaliveOnByDefault(t *testing.T) {
	tests := []struct {
		name  string
		opts  *Options
		pings bool
	}{
		{"zero", nil, true},
		{"negative", &Options{KeepaliveInterval: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := &recordingTransport{}
			c := NewConn(tr, ConnConfig{Role: RoleClient, Options: tt.opts})
			require.NoError(t, c.Start())
			t.Cleanup(func() { _ = c.Close() })
			sent := func() bool {
				tr.mu.Lock()
				defer tr.mu.Unlock()
				return len(tr.msgs) > 0
			}
			if tt.pings {
				require.Eventually(t, sent, 5*time.Second, time.Millisecond, "no keepalive ping")
				tr.mu.Lock()
				require.Contains(t, string(tr.msgs[0]), `"method":"ping"`)
				tr.mu.Unlock()
			} else {
				time.Sleep(50 * time.Millisecond) // the first ping leaves at once when on
				require.False(t, sent(), "a ping with keepalive off")
			}
		})
	}
}

// An OnConnect error closes the connection with CloseConnectRefused; Start,
// Err and OnClose report it, matching ErrConnectRefused and the hook's error.
func TestStartReportsOnConnectRefusal(t *testing.T) {
	errNo := errors.New("no subscriptions left")
	closed := make(chan error, 1)
	var gotCtx context.Context
	tr := &closeRecorder{}
	c := NewConn(tr, ConnConfig{Options: &Options{KeepaliveInterval: -1, Hooks: &Hooks{
		OnConnect: func(ctx context.Context, c *Conn) error { gotCtx = ctx; return errNo },
		OnClose:   func(c *Conn, err error) { closed <- err },
	}}})
	err := c.Start()
	require.ErrorIs(t, err, ErrConnectRefused)
	require.ErrorIs(t, err, errNo)
	require.Same(t, c, ConnFromContext(gotCtx), "the hook's ctx carries the connection")
	require.Error(t, gotCtx.Err(), "the hook's ctx ends with the connection")
	require.ErrorIs(t, c.Err(), ErrClosed)
	require.ErrorIs(t, c.Err(), errNo)
	select {
	case err := <-closed:
		require.ErrorIs(t, err, ErrConnectRefused)
	case <-time.After(5 * time.Second):
		t.Fatal("OnClose did not run")
	}
	require.Equal(t, CloseConnectRefused, tr.code)
}

// closeRecorder records the close code it was closed with.
type closeRecorder struct {
	nopTransport
	code int
}

func (r *closeRecorder) Close(code int, reason string) error { r.code = code; return nil }
