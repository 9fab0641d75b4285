// The root module alone: a server and a client over loopback.
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
	"github.com/wsrpc/wsrpc-go/server"
)

type ab struct {
	A int `json:"a"`
	B int `json:"b"`
}

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	reg := wsrpc.NewRegistry()
	reg.MustAdd("subtract", func(p ab) int { return p.A - p.B })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(ln, server.New(reg, nil))
	c, err := client.Dial(ctx, "ws://"+ln.Addr().String()+"/", nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	diff, err := wsrpc.Call[int](ctx, c, "subtract", ab{A: 1, B: 9})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("root: subtract =", diff)
}
