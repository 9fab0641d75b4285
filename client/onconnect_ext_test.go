package client_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
)

// Hooks.OnConnect runs on the client once the connection is read, so it
// may call the server; its error fails Dial, matching wsrpc.ErrConnectRefused
// and the hook's own error, and closes that connection.
func TestOnConnectHook(t *testing.T) {
	errLogin := errors.New("login refused")
	tests := []struct {
		name    string
		hook    func(ctx context.Context, c *wsrpc.Conn) error
		wantErr error
	}{
		{"calls the server", func(ctx context.Context, c *wsrpc.Conn) error {
			_, err := add(ctx, c, 1, 2)
			return err
		}, nil},
		{"refuses", func(ctx context.Context, c *wsrpc.Conn) error { return errLogin }, errLogin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newRestartable(t, testRoutes(t))
			var conn *wsrpc.Conn
			c, err := client.Dial(testCtx(t), srv.url(), nil, &client.Options{Options: wsrpc.Options{
				Hooks: &wsrpc.Hooks{OnConnect: func(ctx context.Context, c *wsrpc.Conn) error {
					conn = c
					return tt.hook(ctx, c)
				}},
			}})
			if tt.wantErr == nil {
				require.NoError(t, err)
				t.Cleanup(func() { _ = c.Close() })
				require.Same(t, conn, c.Conn())
				return
			}
			require.ErrorIs(t, err, wsrpc.ErrConnectRefused)
			require.ErrorIs(t, err, tt.wantErr)
			require.NotNil(t, conn)
			require.ErrorIs(t, conn.Err(), tt.wantErr, "the refused connection is closed, with the hook's error")
		})
	}
}
