package wsrpc_test

import (
	"context"
	"fmt"
	"net"
	"time"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/server"
)

// The server calls a route of the client: both ends of a connection expose
// routes, and either calls the other's with Call. Here the server keeps the
// connection from its OnConnect hook and calls the client outside any
// handler (server.Server.Clients and Client find connections too).
func ExampleConn_Call() {
	connected := make(chan *wsrpc.Conn, 1)
	srv := server.New(wsrpc.NewRegistry(), &server.Options{Options: wsrpc.Options{
		Hooks: &wsrpc.Hooks{OnConnect: func(_ context.Context, c *wsrpc.Conn) error { connected <- c; return nil }},
	}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	// The client's routes, which the server may call.
	routes := wsrpc.NewRegistry()
	routes.MustAdd("version", func() string { return "1.4.2" })
	routes.MustAdd("multiply", func(p struct {
		X int `json:"x"`
		Y int `json:"y"`
	}) int {
		return p.X * p.Y
	})
	c, err := client.Dial(context.Background(), "ws://"+ln.Addr().String()+"/", routes, nil)
	if err != nil {
		panic(err)
	}
	defer c.Close()

	// On the server.
	conn := <-connected // OnConnect ran before Dial returned
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	version, err := wsrpc.Call[string](ctx, conn, "version", nil)
	fmt.Println(version, err)
	var product int
	err = conn.Call(ctx, "multiply", map[string]int{"x": 6, "y": 7}, &product)
	fmt.Println(product, err)
	// Output:
	// 1.4.2 <nil>
	// 42 <nil>
}
