package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"time"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/server"
)

// dialNamed connects a client whose route "whoami" answers name and whose
// events go to events.
func dialNamed(url, name string, events chan<- string) *client.Client {
	routes := wsrpc.NewRegistry()
	routes.MustAdd("whoami", func() string { return name })
	c, err := client.Dial(context.Background(), url, routes, &client.Options{
		Options: wsrpc.Options{OnEvent: func(_ *wsrpc.Conn, event json.RawMessage) {
			events <- name + " got " + string(event)
		}},
	})
	if err != nil {
		panic(err)
	}
	return c
}

// waitClients waits until srv has n connected clients.
func waitClients(srv *server.Server, n int) {
	for deadline := time.Now().Add(5 * time.Second); len(srv.Clients()) < n; {
		if time.Now().After(deadline) {
			panic("the clients did not connect")
		}
		time.Sleep(time.Millisecond)
	}
}

// Broadcast calls a route on every connected client at once and collects
// one answer per client; a client's failure stays in its own entry.
func ExampleServer_Broadcast() {
	srv := server.New(wsrpc.NewRegistry(), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	url := "ws://" + ln.Addr().String() + "/"
	events := make(chan string, 2)
	alice := dialNamed(url, "alice", events)
	defer alice.Close()
	bob := dialNamed(url, "bob", events)
	defer bob.Close()
	waitClients(srv, 2)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var names []string
	for _, r := range srv.Broadcast(ctx, "whoami", nil) {
		if r.Err != nil {
			fmt.Println(r.Conn.ID(), "failed:", r.Err)
			continue
		}
		names = append(names, string(r.Result))
	}
	sort.Strings(names)
	fmt.Println(names)
	// Output: ["alice" "bob"]
}

// Emit sends an event (a message without an id, which needs no answer) to
// every connected client; clients receive it in Options.OnEvent.
func ExampleServer_Emit() {
	srv := server.New(wsrpc.NewRegistry(), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	url := "ws://" + ln.Addr().String() + "/"
	events := make(chan string, 2)
	alice := dialNamed(url, "alice", events)
	defer alice.Close()
	bob := dialNamed(url, "bob", events)
	defer bob.Close()
	waitClients(srv, 2)

	err = srv.Emit(context.Background(), map[string]string{"topic": "maintenance", "at": "02:00"})
	fmt.Println("emit:", err)
	got := []string{<-events, <-events}
	sort.Strings(got)
	fmt.Println(got[0])
	fmt.Println(got[1])
	// Output:
	// emit: <nil>
	// alice got {"at":"02:00","topic":"maintenance"}
	// bob got {"at":"02:00","topic":"maintenance"}
}

// EmitEncoded sends an event encoded once, with wsrpc.EncodeEvent, to every
// connected client: the same bytes are queued on each connection, which is
// what a server relaying one message to many clients wants.
func ExampleServer_EmitEncoded() {
	srv := server.New(wsrpc.NewRegistry(), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	url := "ws://" + ln.Addr().String() + "/"
	events := make(chan string, 2)
	alice := dialNamed(url, "alice", events)
	defer alice.Close()
	bob := dialNamed(url, "bob", events)
	defer bob.Close()
	waitClients(srv, 2)

	msg, err := wsrpc.EncodeEvent(map[string]string{"price": "42.10"})
	if err != nil {
		panic(err)
	}
	fmt.Println("clients that took it:", srv.EmitEncoded(msg))
	got := []string{<-events, <-events}
	sort.Strings(got)
	fmt.Println(got[0])
	fmt.Println(got[1])
	// Output:
	// clients that took it: 2
	// alice got {"price":"42.10"}
	// bob got {"price":"42.10"}
}
