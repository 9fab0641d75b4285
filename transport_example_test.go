package wsrpc_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"time"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

// lineTransport carries one JSON message per line over a stream: a
// Transport of your own, here over plain TCP instead of WebSocket. (The
// engine writes compact JSON, but a route returning raw JSON with newlines
// would break this framing: a real transport frames by length.)
type lineTransport struct {
	nc   net.Conn
	seen func(msg []byte) // shows what arrives, for the example's output
}

// WriteMessages writes each message as one line. The engine never calls it
// from two goroutines at once.
func (t *lineTransport) WriteMessages(msgs [][]byte) error {
	var buf []byte
	for _, m := range msgs {
		buf = append(append(buf, m...), '\n')
	}
	_, err := t.nc.Write(buf)
	return err
}

// Close releases the stream; a line protocol has no close frame.
func (t *lineTransport) Close(code int, reason string) error { return t.nc.Close() }

// serve is the transport's reader: it feeds each line to the engine and
// reports the end of the stream.
func (t *lineTransport) serve(c *wsrpc.Conn) {
	sc := bufio.NewScanner(t.nc)
	for sc.Scan() {
		if t.seen != nil {
			t.seen(sc.Bytes())
		}
		c.HandleMessage(sc.Bytes())
	}
	c.HandleClose(sc.Err())
}

// NewConn runs the engine over a transport of your own: here both ends of a
// TCP connection that carries one JSON message per line. The engine does
// the rest (routing, ids, replies, concurrency limits).
func ExampleNewConn() {
	reg := wsrpc.NewRegistry()
	reg.MustAdd("subtract", func(p struct {
		A int `json:"a"`
		B int `json:"b"`
	}) int {
		return p.A - p.B
	})
	// Keepalive is on by default (each side pings the other); off here so
	// that the output shows only the call.
	quiet := &wsrpc.Options{KeepaliveInterval: -1}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	go func() { // the server: one engine per accepted connection
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			t := &lineTransport{nc: nc, seen: func(msg []byte) { fmt.Printf("server got %s\n", msg) }}
			conn := wsrpc.NewConn(t, wsrpc.ConnConfig{Role: wsrpc.RoleServer, Registry: reg, Options: quiet})
			conn.Start()
			go t.serve(conn)
		}
	}()

	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	t := &lineTransport{nc: nc}
	conn := wsrpc.NewConn(t, wsrpc.ConnConfig{Role: wsrpc.RoleClient, Options: quiet})
	conn.Start()
	go t.serve(conn)
	defer conn.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	diff, err := wsrpc.Call[int](ctx, conn, "subtract", map[string]int{"a": 1, "b": 9})
	fmt.Println(diff, err)
	// Output:
	// server got {"id":3,"method":"subtract","params":{"a":1,"b":9}}
	// -8 <nil>
}
