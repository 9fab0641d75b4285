// Command natsd runs a NATS server for a local cluster of
// examples/cluster nodes (`make cluster` starts it):
//
//	go run ./examples/cluster/natsd -addr 127.0.0.1:4222
//
// It runs until SIGINT or SIGTERM. In production, run nats-server itself.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:4222", "address to listen on")
	flag.Parse()
	if err := run(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "natsd:", err)
		os.Exit(1)
	}
}

func run(addr string) error {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return fmt.Errorf("-addr %q: the port must be a number", addr)
	}
	s, err := natsserver.NewServer(&natsserver.Options{Host: host, Port: port, NoSigs: true})
	if err != nil {
		return err
	}
	s.ConfigureLogger()
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		return fmt.Errorf("NATS did not start on %s within 10s (is the port in use?)", addr)
	}
	fmt.Fprintln(os.Stderr, "natsd: NATS listening on", s.ClientURL())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	s.Shutdown()
	s.WaitForShutdown()
	return nil
}
