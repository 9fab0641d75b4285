// cluster/nats: a node of a cluster of one (NATS embedded) calls its client by id.
package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/cluster/nats"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	node, err := nats.New(ctx, wsrpc.NewRegistry(), nil, &nats.Options{Name: "scratch"})
	if err != nil {
		log.Fatal(err)
	}
	defer node.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(ln, node.Server())

	routes := wsrpc.NewRegistry()
	routes.MustAdd("multiply", func(p struct {
		X int `json:"x"`
		Y int `json:"y"`
	}) int {
		return p.X * p.Y
	})
	c, err := client.Dial(ctx, "ws://"+ln.Addr().String()+"/", routes, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	for len(node.Clients()) == 0 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	for id := range node.Clients() {
		var product int
		if err := node.Call(ctx, id, "multiply", map[string]int{"x": 6, "y": 7}, &product); err != nil {
			log.Fatal(err)
		}
		fmt.Println("nats: multiply =", product)
	}
}
