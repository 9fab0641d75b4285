package wsrpc_test

import (
	"context"
	"fmt"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
)

// A function route: a plain function, called by its exact name. Named
// params arrive as a struct; the optional context carries the connection.
func ExampleRegistry_Add() {
	reg := wsrpc.NewRegistry()
	err := reg.Add("greet", func(ctx context.Context, p struct {
		Name string `json:"name"`
	}) (string, error) {
		if p.Name == "" {
			return "", wsrpc.NewError("ValueError", "name is empty")
		}
		return "hello, " + p.Name, nil
	})
	if err != nil {
		panic(err) // the handler's shape breaks a rule; the message says which
	}
	url, stop := serveExample(reg)
	defer stop()
	c, err := client.Dial(context.Background(), url, nil, nil)
	if err != nil {
		panic(err)
	}
	defer c.Close()

	s, err := wsrpc.Call[string](context.Background(), c, "greet", map[string]string{"name": "gopher"})
	fmt.Println(s, err)
	_, err = wsrpc.Call[string](context.Background(), c, "greet", map[string]string{"name": ""})
	fmt.Println(err)
	// Output:
	// hello, gopher <nil>
	// ValueError: name is empty
}

// Tally is a struct route: each connection gets its own instance.
type Tally struct {
	wsrpc.Route `wsrpc:"proxy" methods:"Add,Total"`
	total       int
}

// Add adds n to this connection's total and returns it.
func (t *Tally) Add(ctx context.Context, p struct {
	N int `json:"n"`
}) int {
	t.total += p.N
	return t.total
}

// Total returns this connection's total.
func (t *Tally) Total(ctx context.Context) int { return t.total }

// A struct route keeps state per connection: its methods are called as
// "route.method", one at a time per instance, so fields need no lock.
func ExampleRegistry_Add_structRoute() {
	reg := wsrpc.NewRegistry()
	reg.MustAdd("tally", &Tally{})
	url, stop := serveExample(reg)
	defer stop()
	ctx := context.Background()
	alice, err := client.Dial(ctx, url, nil, nil)
	if err != nil {
		panic(err)
	}
	defer alice.Close()
	bob, err := client.Dial(ctx, url, nil, nil)
	if err != nil {
		panic(err)
	}
	defer bob.Close()

	_, _ = wsrpc.Call[int](ctx, alice, "tally.add", map[string]int{"n": 2})
	_, _ = wsrpc.Call[int](ctx, alice, "tally.add", map[string]int{"n": 3})
	_, _ = wsrpc.Call[int](ctx, bob, "tally.add", map[string]int{"n": 10})
	a, _ := wsrpc.Call[int](ctx, alice, "tally.total", nil)
	b, _ := wsrpc.Call[int](ctx, bob, "tally.total", nil)
	fmt.Println("alice:", a, "bob:", b)
	// Output: alice: 5 bob: 10
}
