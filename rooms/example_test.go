package rooms_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"time"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/rooms"
	"github.com/wsrpc/wsrpc-go/server"
)

// serveExample serves reg on a loopback port and returns its URL.
func serveExample(reg *wsrpc.Registry, opts *server.Options) (url string, stop func()) {
	srv := server.New(reg, opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)
	return "ws://" + ln.Addr().String() + "/", func() { srv.Close() }
}

// A server that lets its clients join rooms, and a client that joins
// one and gets the room's events.
func Example() {
	r := rooms.New(nil)
	reg := wsrpc.NewRegistry()
	// Anyone may join any room but "staff".
	_ = r.Routes(reg, func(ctx context.Context, c *wsrpc.Conn, room string) error {
		if room == "staff" {
			return wsrpc.NewError(rooms.TypePermissionError, "staff only")
		}
		return nil
	})
	opts := &server.Options{}
	opts.Hooks = wsrpc.ChainHooks(r.Hooks(), opts.Hooks) // closed connections leave their rooms
	url, stop := serveExample(reg, opts)
	defer stop()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	events := make(chan string, 1)
	c, err := client.Dial(ctx, url, nil, &client.Options{
		Options: wsrpc.Options{OnEvent: func(_ *wsrpc.Conn, ev json.RawMessage) { events <- string(ev) }},
	})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	if err := c.Call(ctx, rooms.RouteJoin, rooms.JoinParams{Room: "lobby"}, nil); err != nil {
		panic(err)
	}
	fmt.Println("members:", r.Count("lobby"))
	err = c.Call(ctx, rooms.RouteJoin, rooms.JoinParams{Room: "staff"}, nil)
	fmt.Println("staff:", err)

	if _, err := r.Emit(ctx, "lobby", map[string]string{"text": "hello, lobby"}); err != nil {
		panic(err)
	}
	fmt.Println(<-events)
	// Output:
	// members: 1
	// staff: PermissionError: staff only
	// {"text":"hello, lobby"}
}

// A Go client that follows a room with history: the tracker hands each
// event on once, in order, with its position, and after a reconnect
// (client.Options.Reconnect) joins again from the last one it saw.
func ExampleTracker() {
	r := rooms.New(&rooms.Options{
		History: func(room string) *rooms.History { return &rooms.History{MaxEvents: 100} },
	})
	reg := wsrpc.NewRegistry()
	_ = r.Routes(reg, func(context.Context, *wsrpc.Conn, string) error { return nil })
	opts := &server.Options{}
	opts.Hooks = r.Hooks()
	url, stop := serveExample(reg, opts)
	defer stop()

	events := make(chan string, 2)
	t := rooms.NewTracker(rooms.TrackerOptions{
		OnEvent: func(room string, pos rooms.Position, ev json.RawMessage) {
			var body struct{ Text string }
			_ = json.Unmarshal(ev, &body)
			events <- fmt.Sprintf("%s #%d: %s", room, pos.Offset, body.Text)
		},
		OnLost: func(room string, pos rooms.Position) { fmt.Println("reload", room) },
	})
	copts := &client.Options{Reconnect: true}
	t.Install(&copts.Options)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url, nil, copts)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	if _, err := t.Join(ctx, c, "news"); err != nil {
		panic(err)
	}
	for _, text := range []string{"first", "second"} {
		if _, err := r.Emit(ctx, "news", map[string]string{"text": text}); err != nil {
			panic(err)
		}
	}
	fmt.Println(<-events)
	fmt.Println(<-events)
	// Output:
	// news #1: first
	// news #2: second
}
