// Command client is the wsrpc introduction's client in Go. It registers
// multiply(x, y), connects once, calls subtract, kv.set, kv.get and
// multiply_loopback on that connection, and prints one line per call:
//
//	subtract: -8
//	kv.set: true
//	kv.get: "bar"
//	multiply_loopback: 200
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/examples/introduction/intro"
)

func main() {
	url := flag.String("url", "ws://127.0.0.1:8000/ws/", "WebSocket URL of the server")
	flag.Parse()
	if err := run(*url); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
}

func run(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg := intro.ClientRoutes()

	c, err := client.Dial(ctx, url, reg, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	calls := []struct {
		method string
		params any
	}{
		{"subtract", map[string]int{"a": 1, "b": 9}},
		{"kv.set", map[string]string{"key": "foo", "value": "bar"}},
		{"kv.get", map[string]string{"key": "foo"}},
		{"multiply_loopback", nil},
	}
	for _, call := range calls {
		var result json.RawMessage
		if err := c.Call(ctx, call.method, call.params, &result); err != nil {
			return fmt.Errorf("%s: %w", call.method, err)
		}
		fmt.Printf("%s: %s\n", call.method, compact(result))
	}
	return nil
}

func compact(raw json.RawMessage) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return string(raw)
	}
	return buf.String()
}
