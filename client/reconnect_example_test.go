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

// With Reconnect, a lost connection is dialled again with backoff;
// OnConnect runs on every connection (the place to log in or subscribe
// again), and calls made meanwhile wait for the new connection.
func ExampleDial_reconnect() {
	reg := wsrpc.NewRegistry()
	reg.MustAdd("subtract", func(p struct {
		A int `json:"a"`
		B int `json:"b"`
	}) int {
		return p.A - p.B
	})
	srv := server.New(reg, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	connected := make(chan struct{}, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, "ws://"+ln.Addr().String()+"/", nil, &client.Options{
		Reconnect:        true,
		ReconnectMinWait: 10 * time.Millisecond,
		Options: wsrpc.Options{Hooks: &wsrpc.Hooks{
			OnConnect: func(ctx context.Context, conn *wsrpc.Conn) error {
				fmt.Println("connected")
				connected <- struct{}{}
				return nil
			},
		}},
	})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	<-connected

	// The server drops the connection (a restart, a network failure, …).
	for len(srv.Clients()) == 0 && ctx.Err() == nil {
		time.Sleep(time.Millisecond) // the server registers it after the client's handshake
	}
	for _, conn := range srv.Clients() {
		_ = conn.Close()
	}
	select {
	case <-connected: // the client is back
	case <-ctx.Done():
		fmt.Println("no reconnect")
	}

	diff, err := wsrpc.Call[int](ctx, c, "subtract", map[string]int{"a": 1, "b": 9})
	fmt.Println(diff, err)
	// Output:
	// connected
	// connected
	// -8 <nil>
}
