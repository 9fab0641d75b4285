package client_test

import (
	"context"
	"fmt"
	"net"
	"time"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/server"
)

// exampleServer serves "subtract", and "square", which calls the client's
// "multiply" back, on a loopback address.
func exampleServer(ln net.Listener) *server.Server {
	reg := wsrpc.NewRegistry()
	reg.MustAdd("subtract", func(ctx context.Context, p struct {
		A int `json:"a"`
		B int `json:"b"`
	}) int {
		return p.A - p.B
	})
	reg.MustAdd("square", func(ctx context.Context, p struct {
		N int `json:"n"`
	}) (int, error) {
		// A handler may call the client that called it.
		return wsrpc.Call[int](ctx, wsrpc.ConnFromContext(ctx), "multiply", map[string]int{"x": p.N, "y": p.N})
	})
	srv := server.New(reg, nil)
	go srv.Serve(ln)
	return srv
}

// A client calls the server and exposes routes of its own, which the server
// may call.
func ExampleDial() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := exampleServer(ln)
	defer srv.Close()

	reg := wsrpc.NewRegistry()
	reg.MustAdd("multiply", func(ctx context.Context, p struct {
		X int `json:"x"`
		Y int `json:"y"`
	}) int {
		return p.X * p.Y
	})
	ctx := context.Background()
	c, err := client.Dial(ctx, "ws://"+ln.Addr().String()+"/", reg, nil)
	if err != nil {
		panic(err)
	}
	defer c.Close()

	diff, err := wsrpc.Call[int](ctx, c, "subtract", map[string]int{"a": 1, "b": 9})
	fmt.Println(diff, err)
	sq, err := wsrpc.Call[int](ctx, c, "square", map[string]int{"n": 7})
	fmt.Println(sq, err)
	// Output:
	// -8 <nil>
	// 49 <nil>
}

// With Reconnect, a client outlives its server's restarts: calls made
// meanwhile wait for the new connection, bounded by CallTimeout, and
// OnStateChange follows the way.
func ExampleOptions_reconnect() {
	ln, err := listenBelowEphemeral()
	if err != nil {
		panic(err)
	}
	addr := ln.Addr().String()
	srv := exampleServer(ln)

	last := client.StateConnecting
	c, err := client.Dial(context.Background(), "ws://"+addr+"/", nil, &client.Options{
		Options:   wsrpc.Options{CallTimeout: 10 * time.Second},
		Reconnect: true, ReconnectMinWait: 10 * time.Millisecond, ReconnectMaxWait: time.Second,
		OnStateChange: func(ch client.StateChange) {
			if ch.State != last { // attempts repeat while the server is down
				fmt.Println(ch.State)
				last = ch.State
			}
		},
	})
	if err != nil {
		panic(err)
	}
	diff, err := wsrpc.Call[int](context.Background(), c, "subtract", map[string]int{"a": 5, "b": 3})
	fmt.Println(diff, err)

	srv.Close() // the server goes away...
	for c.State() == client.StateConnected {
		time.Sleep(time.Millisecond)
	}
	ln, err = net.Listen("tcp", addr) // ...and comes back
	if err != nil {
		panic(err)
	}
	srv = exampleServer(ln)
	defer srv.Close()

	diff, err = wsrpc.Call[int](context.Background(), c, "subtract", map[string]int{"a": 9, "b": 3})
	fmt.Println(diff, err)
	c.Close()
	<-c.Done()
	// Output:
	// connected
	// 2 <nil>
	// disconnected
	// reconnecting
	// connected
	// 6 <nil>
	// disconnected
	// closed
}

// listenBelowEphemeral listens on a loopback port below Linux's ephemeral
// range (32768 and up), so that when the example's server comes back on the
// same port, no outgoing connection of another process can hold it.
func listenBelowEphemeral() (net.Listener, error) {
	var err error
	for i := range 200 {
		var ln net.Listener
		port := 20000 + (time.Now().Nanosecond()/1000+i*7919)%12000
		if ln, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			return ln, nil
		}
	}
	return nil, err
}
