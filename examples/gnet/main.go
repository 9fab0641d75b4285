// Command gnet serves the wsrpc introduction's routes at /ws/ from a gnet
// event loop (github.com/panjf2000/gnet/v2), upgrade included: the program
// owns the sockets and the loop, and wsrpc is a session.Session per
// connection that it feeds. There is no goroutine per connection: gnet's
// loops read, the server's workers run the handlers.
//
//	go run ./examples/gnet -addr 127.0.0.1:8000
//	go run ./examples/introduction/client -url ws://127.0.0.1:8000/ws/
//
// It runs until SIGINT or SIGTERM, then stops the loop and exits 0.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/examples/introduction/intro"
	"github.com/wsrpc/wsrpc-go/server"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "address to listen on")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*addr, log); err != nil {
		fmt.Fprintln(os.Stderr, "gnet:", err)
		os.Exit(1)
	}
}

func run(addr string, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, addr, log)
}

// serve serves at addr until ctx ends, then shuts down.
func serve(ctx context.Context, addr string, log *slog.Logger) error {
	srv := server.New(intro.ServerRoutes(), &server.Options{
		Options: wsrpc.Options{Logger: log},
		Path:    "/ws/",
	})
	h := newHandler(srv, log)
	errc := make(chan error, 1)
	go func() {
		errc <- gnet.Run(h, "tcp://"+addr, gnet.WithMulticore(true), gnet.WithReusePort(true))
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx) // closes every connection with 1001
	if err := h.stop(sctx); err != nil {
		return err
	}
	return <-errc
}
