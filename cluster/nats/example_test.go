package nats_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"time"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	wsnats "github.com/wsrpc/wsrpc-go/cluster/nats"
	"github.com/wsrpc/wsrpc-go/rooms"
	"github.com/wsrpc/wsrpc-go/server"
)

// A cluster of one on the embedded NATS server: a client connects with an
// id, and the node calls it by that id (from any node of a cluster, this
// would be the same call).
func ExampleNew() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	node, err := wsnats.New(ctx, nil, &server.Options{
		Identify: func(r *http.Request) (string, any, error) { return r.URL.Query().Get("id"), nil, nil },
	}, &wsnats.Options{Name: "solo"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer node.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() { _ = node.Server().Serve(ln) }()

	reg := wsrpc.NewRegistry()
	reg.MustAdd("greet", func(ctx context.Context, p struct {
		Name string `json:"name"`
	}) (string, error) {
		return "hello, " + p.Name, nil
	})
	c, err := client.Dial(ctx, "ws://"+ln.Addr().String()+"/?id=alice", reg, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	// The node knows a client from the server's OnConnect on, which runs
	// just after the upgrade: a moment after Dial returns.
	for _, err := node.Lookup(ctx, "alice"); err != nil && ctx.Err() == nil; _, err = node.Lookup(ctx, "alice") {
		time.Sleep(time.Millisecond)
	}

	var greeting string
	err = node.Call(ctx, "alice", "greet", map[string]string{"name": "node solo"}, &greeting)
	fmt.Println(greeting, err)
	fmt.Println(node.Clients(ctx))
	// Output:
	// hello, node solo <nil>
	// map[alice:solo] <nil>
}

// Rooms that span the cluster: a client joins "lobby" on this node, and
// an event emitted to the room on any node reaches it (here the cluster
// has one node). Only nodes with members of a room receive its events.
func ExampleNode_Rooms() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	node, err := wsnats.New(ctx, nil, nil, &wsnats.Options{Name: "solo"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer node.Close()
	r, err := node.Rooms(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Clients join rooms themselves through rooms.join; this server lets
	// anyone join any room.
	_ = r.Routes(node.Server().Registry(), func(context.Context, *wsrpc.Conn, string) error { return nil })
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() { _ = node.Server().Serve(ln) }()

	events := make(chan string, 1)
	c, err := client.Dial(ctx, "ws://"+ln.Addr().String()+"/", nil, &client.Options{
		Options: wsrpc.Options{OnEvent: func(_ *wsrpc.Conn, ev json.RawMessage) { events <- string(ev) }},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	if err := c.Call(ctx, rooms.RouteJoin, rooms.JoinParams{Room: "lobby"}, nil); err != nil {
		fmt.Println(err)
		return
	}

	_, err = r.Emit(ctx, "lobby", map[string]string{"text": "hi"})
	fmt.Println(err, <-events)
	// Output:
	// <nil> {"text":"hi"}
}
