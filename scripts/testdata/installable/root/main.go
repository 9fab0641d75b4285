// The root module alone: a server and a client over loopback.
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/server"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	reg := wsrpc.NewRegistry()
	reg.MustAdd("subtract", subtract)
	c := dial(ctx, serve(server.New(reg, nil)), nil, nil)
	defer c.Close()
	fmt.Println("root: subtract =", call[int](ctx, c, "subtract", pair{A: 1, B: 9}))
}
