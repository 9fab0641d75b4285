// Command embed shows how a program that runs its own accept loop hands
// connections to the wsrpc engine, before or after the WebSocket upgrade.
//
//	go run ./examples/embed -addr 127.0.0.1:8001 -mode conn      # wsrpc reads the upgrade request
//	go run ./examples/embed -addr 127.0.0.1:8001 -mode upgraded  # we upgrade with gobwas/ws first
//
// Either way the connection is then served by the netpoll engine (on
// Linux): an idle connection owns no goroutine and no buffer.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsrpc/wsrpc-go/examples/introduction/intro"
	"github.com/wsrpc/wsrpc-go/server"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8001", "address to listen on")
	mode := flag.String("mode", "conn", "conn: hand over before the upgrade; upgraded: after our own upgrade")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	srv := server.New(intro.ServerRoutes(), nil)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = ln.Close()
	}()
	log.Info("embed example listening", "url", "ws://"+ln.Addr().String()+"/ws/", "mode", *mode, "engine", srv.Engine())

	// Our own accept loop: here is where a program applies its own
	// policies (connection limits per address, a PROXY-protocol header, …).
	for {
		nc, err := ln.Accept()
		if err != nil {
			break
		}
		switch *mode {
		case "upgraded":
			go upgradeThenHandOver(srv, nc, log)
		default:
			srv.ServeConn(nc) // wsrpc reads and answers the upgrade request
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
}

// upgradeThenHandOver completes the WebSocket handshake with gobwas/ws,
// keeping the request headers, and gives the connection to wsrpc.
func upgradeThenHandOver(srv *server.Server, nc net.Conn, log *slog.Logger) {
	req := &http.Request{Header: http.Header{}}
	u := ws.Upgrader{
		OnHeader: func(key, value []byte) error {
			req.Header.Add(string(key), string(value))
			return nil
		},
	}
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := u.Upgrade(nc); err != nil {
		if log != nil {
			log.Debug("upgrade failed", "err", err)
		}
		_ = nc.Close()
		return
	}
	_ = nc.SetDeadline(time.Time{})
	srv.ServeUpgraded(nc, nil, req)
}
