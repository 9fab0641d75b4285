package server_test

import (
	"context"
	"fmt"
	"net"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/server"
)

// ServeConn embeds the server in a program that runs its own accept loop
// (to apply its own per-address limits, say): each accepted connection is
// handed over before the WebSocket upgrade, which the server reads and
// answers. ServeUpgraded takes connections upgraded already; ServeHTTP
// mounts the server in a net/http mux. examples/embed is a full program.
func ExampleServer_ServeConn() {
	reg := wsrpc.NewRegistry()
	reg.MustAdd("subtract", func(p struct {
		A int `json:"a"`
		B int `json:"b"`
	}) int {
		return p.A - p.B
	})
	srv := server.New(reg, nil)
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return // the listener was closed
			}
			// Your policies go here, before the connection is handed over.
			srv.ServeConn(nc) // returns at once
		}
	}()

	c, err := client.Dial(context.Background(), "ws://"+ln.Addr().String()+"/ws/", nil, nil)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	diff, err := wsrpc.Call[int](context.Background(), c, "subtract", map[string]int{"a": 1, "b": 9})
	fmt.Println(diff, err)
	// Output: -8 <nil>
}
