// discovery: the OpenRPC document of a registry, as a peer reads it.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/discovery"
	"github.com/wsrpc/wsrpc-go/server"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	reg := wsrpc.NewRegistry()
	reg.MustAdd("subtract", subtract)
	discovery.MustRegister(reg, &discovery.Options{Title: "scratch"})
	c := dial(ctx, serve(server.New(reg, nil)), nil, nil)
	defer c.Close()

	doc := call[json.RawMessage](ctx, c, "rpc.discover", nil)
	var d struct {
		OpenRPC string `json:"openrpc"`
		Methods []struct {
			Name string `json:"name"`
		} `json:"methods"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		panic(err)
	}
	for _, m := range d.Methods {
		fmt.Printf("discovery: openrpc %s, method %s\n", d.OpenRPC, m.Name)
	}
}
