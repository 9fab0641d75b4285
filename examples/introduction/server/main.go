// Command server is the wsrpc introduction's server in Go: it serves the
// WebSocket at /ws/ with the routes subtract, kv (a struct route), and
// multiply_loopback (which calls the connected client's multiply), plus the
// built-in ping, and rpc.discover, the OpenRPC document of these routes
// (which also lists the client's multiply, that multiply_loopback calls):
//
//	go run ./examples/introduction/server -addr 127.0.0.1:8000
//	wsrpc describe ws://127.0.0.1:8000/ws/
//
// With -metrics ADDR it also serves Prometheus metrics (the series of
// github.com/wsrpc/wsrpc-go/metrics/prometheus, plus the Go runtime's) at
// http://ADDR/metrics; off by default.
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
	"runtime"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/discovery"
	"github.com/wsrpc/wsrpc-go/examples/introduction/intro"
	wsprom "github.com/wsrpc/wsrpc-go/metrics/prometheus"
	"github.com/wsrpc/wsrpc-go/server"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "address to listen on")
	engine := flag.String("engine", defaultEngine(), "connection engine: netpoll (epoll, Linux) or goroutine")
	metrics := flag.String("metrics", "", "serve Prometheus metrics at http://ADDR/metrics (off when empty)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if *engine != server.EngineNetpoll && *engine != server.EngineGoroutine {
		fmt.Fprintf(os.Stderr, "server: unknown -engine %q: use netpoll or goroutine\n", *engine)
		os.Exit(2)
	}
	if err := run(*addr, *engine, *metrics, log); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

func defaultEngine() string {
	if runtime.GOOS == "linux" {
		return server.EngineNetpoll
	}
	return server.EngineGoroutine
}

func run(addr, engine, metricsAddr string, log *slog.Logger) error {
	opts := &server.Options{
		Options: wsrpc.Options{Logger: log},
		Engine:  engine,
		Path:    "/ws/",
	}
	if metricsAddr != "" {
		stopMetrics, err := serveMetrics(metricsAddr, &opts.Options, log)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}
	reg := intro.ServerRoutes()
	if err := discovery.Register(reg, &discovery.Options{Title: "wsrpc introduction", Peer: intro.ClientRoutes()}); err != nil {
		return err
	}
	srv := server.New(reg, opts)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("wsrpc introduction server listening", "url", "ws://"+ln.Addr().String()+"/ws/", "engine", srv.Engine())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = ln.Close()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// serveMetrics instruments opts with the wsrpc server metrics and serves
// them, with the Go runtime's and the process's, at http://addr/metrics.
func serveMetrics(addr string, opts *wsrpc.Options, log *slog.Logger) (stop func(), err error) {
	preg := prometheus.NewRegistry()
	preg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	wsprom.NewServerMetrics(&wsprom.Options{Registerer: preg}).Instrument(opts)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(preg, promhttp.HandlerOpts{}))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	log.Info("serving Prometheus metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	return func() { _ = hs.Close() }, nil
}
