package wsrpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/server"
)

// KV is the introduction's struct route.
type KV struct {
	wsrpc.Route `wsrpc:"proxy" methods:"Get,Set"`
	data        map[string]json.RawMessage
}

// Init runs once per connection, before the first call of Get or Set.
func (s *KV) Init(ctx context.Context) { s.data = map[string]json.RawMessage{} }

// Get returns the value under key, or null.
func (s *KV) Get(ctx context.Context, p struct {
	Key string `json:"key"`
}) json.RawMessage {
	return s.data[p.Key]
}

// Set stores value under key.
func (s *KV) Set(ctx context.Context, p struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}) bool {
	s.data[p.Key] = p.Value
	return true
}

// serveExample starts a server on a loopback port and returns its URL.
func serveExample(reg *wsrpc.Registry) (url string, stop func()) {
	srv := server.New(reg, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws/", srv)
	hs := &http.Server{Handler: mux}
	go hs.Serve(ln)
	return "ws://" + ln.Addr().String() + "/ws/", func() { srv.Close(); hs.Close() }
}

// The introduction in Go: function and struct routes on the server, a route
// on the client that the server calls back.
func Example() {
	reg := wsrpc.NewRegistry()
	reg.MustAdd("subtract", func(p struct {
		A int `json:"a"`
		B int `json:"b"`
	}) int {
		return p.A - p.B
	})
	reg.MustAdd("kv", &KV{})
	reg.MustAdd("multiply_loopback", func(ctx context.Context) (int, error) {
		// Call the client that made this call.
		return wsrpc.Call[int](ctx, wsrpc.ConnFromContext(ctx), "multiply", map[string]int{"x": 10, "y": 20})
	})
	url, stop := serveExample(reg)
	defer stop()

	clientRoutes := wsrpc.NewRegistry()
	clientRoutes.MustAdd("multiply", func(p struct {
		X int `json:"x"`
		Y int `json:"y"`
	}) int {
		return p.X * p.Y
	})
	ctx := context.Background()
	c, err := client.Dial(ctx, url, clientRoutes, nil)
	if err != nil {
		panic(err)
	}
	defer c.Close()

	diff, _ := wsrpc.Call[int](ctx, c, "subtract", map[string]int{"a": 1, "b": 9})
	ok, _ := wsrpc.Call[bool](ctx, c, "kv.set", map[string]string{"key": "foo", "value": "bar"})
	value, _ := wsrpc.Call[string](ctx, c, "kv.get", map[string]string{"key": "foo"})
	product, _ := wsrpc.Call[int](ctx, c, "multiply_loopback", nil)
	fmt.Println(diff, ok, value, product)
	// Output: -8 true bar 200
}

// Errors from the peer are *wsrpc.Error values with the peer's type and
// message.
func ExampleError() {
	reg := wsrpc.NewRegistry()
	reg.MustAdd("lookup", func(p struct {
		Key string `json:"key"`
	}) (string, error) {
		return "", wsrpc.NewError("KeyError", "no such key: "+p.Key)
	})
	url, stop := serveExample(reg)
	defer stop()
	c, _ := client.Dial(context.Background(), url, nil, nil)
	defer c.Close()

	err := c.Call(context.Background(), "lookup", map[string]string{"key": "x"}, nil)
	var e *wsrpc.Error
	if errors.As(err, &e) {
		fmt.Println(e.Type, "|", e.Message)
	}
	err = c.Call(context.Background(), "missing", nil, nil)
	fmt.Println(errors.Is(err, &wsrpc.Error{Type: wsrpc.TypeNotImplemented}))
	// Output:
	// KeyError | no such key: x
	// true
}

// Proxy makes a typed stub for one remote method.
func ExampleProxy() {
	type SubtractParams struct {
		A int `json:"a"`
		B int `json:"b"`
	}
	reg := wsrpc.NewRegistry()
	reg.MustAdd("subtract", func(p SubtractParams) int { return p.A - p.B })
	url, stop := serveExample(reg)
	defer stop()
	c, _ := client.Dial(context.Background(), url, nil, nil)
	defer c.Close()

	subtract := wsrpc.Proxy[SubtractParams, int]("subtract")
	n, err := subtract(context.Background(), c, SubtractParams{A: 10, B: 3})
	fmt.Println(n, err)
	// Output: 7 <nil>
}

// Events are messages without an id; OnEvent receives them.
func ExampleConn_Emit() {
	got := make(chan string, 1)
	reg := wsrpc.NewRegistry()
	reg.MustAdd("subscribe", func(ctx context.Context) error {
		return wsrpc.ConnFromContext(ctx).Emit(ctx, map[string]string{"topic": "news"})
	})
	url, stop := serveExample(reg)
	defer stop()
	c, _ := client.Dial(context.Background(), url, nil, &client.Options{Options: wsrpc.Options{
		OnEvent: func(c *wsrpc.Conn, event json.RawMessage) { got <- string(event) },
	}})
	defer c.Close()
	_ = c.Call(context.Background(), "subscribe", nil, nil)
	fmt.Println(<-got)
	// Output: {"topic":"news"}
}
