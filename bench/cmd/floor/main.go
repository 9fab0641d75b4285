// Command floor is the practical floor for this protocol in Go: the least
// a server has to do to answer the benchmark's calls correctly, with no RPC
// machinery (no registry, no reflection, no JSON library) and no allocation
// per frame. Each connection's reads land in a buffer that is reused, its
// frames are parsed and unmasked in place, each message's members are found
// in one walk, and the replies to one read leave in one write. It answers
// `subtract` (integers), `kv.set` and `kv.get` (a map per connection, its
// values' buffers reused) and `ping`, so that every call shape the
// benchmark measures has a floor of its own.
//
// Two engines, the mirrors of the wsrpc server's:
//
//	floor -addr 127.0.0.1:9001 -engine goroutine   # a goroutine per connection, Go's poller
//	floor -addr 127.0.0.1:9001 -engine epoll       # epoll (x/sys/unix) on a few pollers, bare descriptors
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"

	"github.com/gobwas/ws"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9001", "address to listen on")
	engine := flag.String("engine", "goroutine", "goroutine or epoll")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
	var serve func(net.Conn)
	switch *engine {
	case "goroutine":
		serve = serveGoroutine
	case "epoll":
		ep, err := newEpoll()
		if err != nil {
			fmt.Fprintln(os.Stderr, "floor:", err)
			os.Exit(1)
		}
		serve = ep.serve
	default:
		fmt.Fprintln(os.Stderr, "floor: -engine is goroutine or epoll")
		os.Exit(2)
	}
	log.Printf("floor server (%s) on ws://%s/", *engine, ln.Addr())
	for {
		nc, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go serve(nc)
	}
}

// readSize is a connection's (goroutine engine) or a poller's (epoll) read
// buffer, as large as the wsrpc server's.
const readSize = 64 << 10

// serveGoroutine serves one connection on its own goroutine.
func serveGoroutine(nc net.Conn) {
	defer nc.Close()
	if _, err := ws.Upgrade(nc); err != nil {
		return
	}
	var p peer
	buf := make([]byte, readSize)
	have := 0
	for {
		n, err := nc.Read(buf[have:])
		if err != nil {
			return
		}
		have += n
		used, err := p.feed(buf[:have])
		if len(p.out) > 0 {
			if _, werr := nc.Write(p.out); werr != nil {
				return
			}
			p.out = p.out[:0]
		}
		if err != nil {
			return
		}
		have = copy(buf, buf[used:have])
	}
}
