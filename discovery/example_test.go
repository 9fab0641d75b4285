package discovery_test

import (
	"context"
	"fmt"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/discovery"
	"github.com/wsrpc/wsrpc-go/openrpc"
)

type GreetParams struct {
	Name  string `json:"name" jsonschema:"description=Who to greet."`
	Title string `json:"title,omitempty"`
}

// Register adds rpc.discover; Document is what it answers.
func ExampleRegister() {
	reg := wsrpc.NewRegistry()
	reg.MustAdd("greet", wsrpc.Doc(func(ctx context.Context, p GreetParams) string { return "hello " + p.Name }, "Greets someone."))
	discovery.MustRegister(reg, &discovery.Options{Title: "greeter", Version: "1.0.0"})

	raw, _ := discovery.Document(reg, nil)
	doc, _ := openrpc.Parse(raw)
	for _, m := range doc.Methods {
		fmt.Print(m.Name, "(")
		for i, p := range m.Params {
			if i > 0 {
				fmt.Print(", ")
			}
			fmt.Printf("%s required=%v %s", p.Name, p.Required, p.Schema)
		}
		if m.Description != "" {
			fmt.Print(") ", m.Description, "\n")
		} else {
			fmt.Println(")")
		}
	}
	// Output:
	// greet(name required=true {"type":"string","description":"Who to greet."}, title required=false {"type":"string"}) Greets someone.
	// ping()
	// rpc.discover() Returns the OpenRPC document describing every method this peer answers.
}
