package testkit

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/internal/testserver"
	"github.com/wsrpc/wsrpc-go/server"
)

// NewServer starts a server with the test routes (Registry) and keepalive
// off unless opts sets it, for the engine of the running
// testserver.ForEachEngine subtest, and returns it and its URL.
func NewServer(t testing.TB, opts *server.Options) (*server.Server, string) {
	t.Helper()
	if opts == nil {
		opts = &server.Options{}
	}
	if opts.KeepaliveInterval == 0 {
		opts.KeepaliveInterval = -1
	}
	srv := testserver.New(Registry(t), opts)
	return srv, testserver.Listen(t, srv)
}

// Dial connects a client to url within 5 s and closes it when the test
// ends.
func Dial(t testing.TB, url string, reg *wsrpc.Registry, opts *client.Options) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url, reg, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Ctx is a context that ends after 10 s or with the test.
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
