package server_test

import (
	"context"
	"fmt"
	"net"
	"strings"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/server"
)

// Serve runs the server's own engine (netpoll on Linux) without net/http.
func ExampleServer_Serve() {
	reg := wsrpc.NewRegistry()
	reg.MustAdd("subtract", wsrpc.Inline(func(p struct {
		A int `json:"a"`
		B int `json:"b"`
	}) int {
		return p.A - p.B
	}))
	srv := server.New(reg, &server.Options{Path: "/ws/"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	c, err := client.Dial(context.Background(), "ws://"+ln.Addr().String()+"/ws/", nil, nil)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	diff, err := wsrpc.Call[int](context.Background(), c, "subtract", map[string]int{"a": 1, "b": 9})
	fmt.Println(diff, err)
	// Output: -8 <nil>
}

// With EnableCompression on both sides, large messages travel with
// permessage-deflate; browsers and Node's ws offer it on their own.
func ExampleOptions_compression() {
	reg := wsrpc.NewRegistry()
	reg.MustAdd("report", func() string { return strings.Repeat("all systems nominal. ", 1000) })
	srv := server.New(reg, &server.Options{Options: wsrpc.Options{EnableCompression: true}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	c, err := client.Dial(context.Background(), "ws://"+ln.Addr().String()+"/", nil, &client.Options{Options: wsrpc.Options{EnableCompression: true}})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	report, err := wsrpc.Call[string](context.Background(), c, "report", nil)
	fmt.Println(len(report), err)
	// Output: 21000 <nil>
}
