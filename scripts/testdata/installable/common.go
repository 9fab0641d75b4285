// common.go is copied into every scratch module of scripts/installable.sh,
// beside the program's main.go.
package main

import (
	"context"
	"log"
	"net"
	"net/http"

	"github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
)

// pair is the params of subtract.
type pair struct {
	A int `json:"a"`
	B int `json:"b"`
}

func subtract(p pair) int { return p.A - p.B }

// serve serves h on a loopback port and returns its WebSocket URL.
func serve(h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(ln, h)
	return "ws://" + ln.Addr().String() + "/"
}

// dial connects to url, exposing routes, or exits.
func dial(ctx context.Context, url string, routes *wsrpc.Registry, opts *client.Options) *client.Client {
	c, err := client.Dial(ctx, url, routes, opts)
	if err != nil {
		log.Fatal(err)
	}
	return c
}

// call calls method on c, or exits.
func call[R any](ctx context.Context, c wsrpc.Caller, method string, params any) R {
	r, err := wsrpc.Call[R](ctx, c, method, params)
	if err != nil {
		log.Fatalf("%s: %v", method, err)
	}
	return r
}
