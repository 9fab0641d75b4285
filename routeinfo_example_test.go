package wsrpc_test

import (
	"context"
	"fmt"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

type exampleGetParams struct {
	Key     string `json:"key"`
	Default any    `json:"default,omitempty"`
}

// Routes describes what a registry answers, as discovery documents it.
func ExampleRegistry_Routes() {
	reg := wsrpc.NewRegistry()
	reg.MustAdd("kv.get", wsrpc.Doc(func(ctx context.Context, p exampleGetParams) (any, error) { return p.Default, nil },
		"Returns the value under key.", "KeyError"))
	for _, ri := range reg.Routes() {
		fmt.Println(ri.Name, ri.Params.Kind, ri.Doc, ri.Errors)
		for _, f := range ri.Params.Fields {
			fmt.Println(" ", f.Name, f.Type, "required:", f.Required)
		}
	}
	// Output:
	// kv.get named Returns the value under key. [TypeError RuntimeError ValueError Exception TimeoutError KeyError]
	//   key string required: true
	//   default interface {} required: false
	// ping map  [TypeError]
}
