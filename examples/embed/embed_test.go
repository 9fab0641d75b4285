package main

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/examples/introduction/intro"
	"github.com/wsrpc/wsrpc-go/server"
)

// Both hand-over points serve real calls, with the request headers visible
// to handlers, under both engines.
func TestHandOver(t *testing.T) {
	for _, engine := range []string{server.EngineNetpoll, server.EngineGoroutine} {
		for _, mode := range []string{"conn", "upgraded"} {
			t.Run(engine+"/"+mode, func(t *testing.T) {
				reg := intro.ServerRoutes()
				reg.MustAdd("token", func(ctx context.Context) string {
					return wsrpc.ConnFromContext(ctx).Request().Header.Get("X-Token")
				})
				srv := server.New(reg, &server.Options{Engine: engine})
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				require.NoError(t, err)
				t.Cleanup(func() { _ = ln.Close(); _ = srv.Close() })
				go func() {
					for {
						nc, err := ln.Accept()
						if err != nil {
							return
						}
						if mode == "upgraded" {
							go upgradeThenHandOver(srv, nc, nil)
						} else {
							srv.ServeConn(nc)
						}
					}
				}()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				c, err := client.Dial(ctx, "ws://"+ln.Addr().String()+"/ws/", nil, &client.Options{Header: http.Header{"X-Token": {"t1"}}})
				require.NoError(t, err)
				defer c.Close()
				diff, err := wsrpc.Call[int](ctx, c, "subtract", map[string]int{"a": 1, "b": 9})
				require.NoError(t, err)
				require.Equal(t, -8, diff)
				tok, err := wsrpc.Call[string](ctx, c, "token", nil)
				require.NoError(t, err)
				require.Equal(t, "t1", tok)
			})
		}
	}
}
