// Command browser is the wsrpc browser demo: a page at / that loads the
// unmodified @wsrpc/client (served from node_modules) and talks to this
// server over the WebSocket at /ws/. The page calls the introduction's
// routes (subtract, kv, multiply_loopback, which calls back into the page's
// own multiply route), and every open tab sees the server's clock, a shared
// counter and the number of tabs, all pushed as events.
//
//	make browser   # npm ci in examples/browser, then the server on 127.0.0.1:8000
//
// The page's calls are typed: app.js imports api.js, the TypeScript module
// `wsrpc gen ts` makes from this server's rpc.discover document, compiled
// (make browser-types regenerates openrpc.json, api.ts and api.js), and
// tsc --checkJs checks app.js against it.
//
// Pages served from another origin (another port, a proxy's public name)
// are refused unless listed with -allow-origin. It runs until SIGINT or
// SIGTERM, then shuts down gracefully and exits 0.
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
	"strings"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "address to listen on")
	modules := flag.String("modules", "", "the node_modules directory holding @wsrpc/client (default: ./node_modules, else ./examples/browser/node_modules)")
	origins := flag.String("allow-origin", "", "comma-separated origins whose pages may connect besides this server's own, e.g. http://localhost:3000")
	printDoc := flag.Bool("openrpc", false, "print the OpenRPC document of the demo's routes (api.ts is generated from it) and exit")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if *printDoc {
		doc, err := document()
		if err != nil {
			fmt.Fprintln(os.Stderr, "browser:", err)
			os.Exit(1)
		}
		os.Stdout.Write(doc)
		return
	}

	cfg := config{allowedOrigins: splitList(*origins)}
	dir, err := findModules(*modules)
	if err != nil {
		// Serve anyway: the page says what is missing.
		log.Error("the JS client is missing", "err", err)
	}
	cfg.modules = dir

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "browser:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Info("wsrpc browser demo: open the page", "url", "http://"+ln.Addr().String()+"/")
	if err := run(ctx, ln, cfg, log); err != nil {
		fmt.Fprintln(os.Stderr, "browser:", err)
		os.Exit(1)
	}
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// run serves the demo on ln until ctx ends, then shuts down: open tabs are
// closed with 1001 (their client reconnects to the next server).
func run(ctx context.Context, ln net.Listener, cfg config, log *slog.Logger) error {
	d := newDemo(cfg, log)
	hs := &http.Server{
		Handler:           d.handler(),
		ReadHeaderTimeout: 5 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	bctx, stopBroadcast := context.WithCancel(ctx)
	defer stopBroadcast()
	go d.broadcast(bctx)

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	d.log.Info("shutting down")
	stopBroadcast()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := hs.Shutdown(sctx) // the listener and plain HTTP connections
	if werr := d.srv.Shutdown(sctx); err == nil {
		err = werr // the WebSocket connections, which http.Server does not track
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return nil // what was left has been closed
	}
	return err
}
