// Command server is the wsrpc introduction's server in Go: it serves the
// WebSocket at /ws/ with the routes subtract, kv (a struct route), and
// multiply_loopback (which calls the connected client's multiply), plus the
// built-in ping.
//
//	go run ./examples/introduction/server -addr 127.0.0.1:8000
//
// It runs until SIGINT or SIGTERM, then shuts down gracefully and exits 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/examples/introduction/intro"
	"github.com/wsrpc/wsrpc-go/server"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "address to listen on")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*addr, log); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

func run(addr string, log *slog.Logger) error {
	srv := server.New(intro.ServerRoutes(), &server.Options{Options: wsrpc.Options{Logger: log}})
	mux := http.NewServeMux()
	mux.Handle("/ws/", srv)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Info("wsrpc introduction server listening", "url", "ws://"+ln.Addr().String()+"/ws/")
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx) // stops the listener; hijacked WebSockets are the wsrpc server's
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
