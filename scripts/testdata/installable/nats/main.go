// cluster/nats: a node of a cluster of one (NATS embedded) calls its client by id.
package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/cluster/nats"
)

type xy struct {
	X int `json:"x"`
	Y int `json:"y"`
}

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	node, err := nats.New(ctx, wsrpc.NewRegistry(), nil, &nats.Options{Name: "scratch"})
	if err != nil {
		log.Fatal(err)
	}
	defer node.Close()

	routes := wsrpc.NewRegistry()
	routes.MustAdd("multiply", func(p xy) int { return p.X * p.Y })
	c := dial(ctx, serve(node.Server()), routes, nil)
	defer c.Close()
	var clients map[string]string // client id → the node that holds it
	for len(clients) == 0 && ctx.Err() == nil {
		if clients, err = node.Clients(ctx); err != nil {
			log.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for id := range clients {
		var product int
		if err := node.Call(ctx, id, "multiply", xy{X: 6, Y: 7}, &product); err != nil {
			log.Fatal(err)
		}
		fmt.Println("nats: multiply =", product)
	}
}
