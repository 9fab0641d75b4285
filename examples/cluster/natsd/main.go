// Command natsd runs a NATS server for a local cluster of
// examples/cluster nodes (`make cluster` starts it):
//
//	go run ./examples/cluster/natsd -addr 127.0.0.1:4222
//
// Port 0 picks a free port; it prints the URLs it serves on stderr.
// -monitor serves NATS's monitoring endpoints (/varz: messages and bytes
// in and out) on another address.
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
	addr := flag.String("addr", "127.0.0.1:4222", "address to listen on (port 0: a free one)")
	monitor := flag.String("monitor", "", "address to serve NATS monitoring (/varz) on, e.g. 127.0.0.1:8222 (port 0: a free one; default off)")
	flag.Parse()
	if err := run(*addr, *monitor); err != nil {
		fmt.Fprintln(os.Stderr, "natsd:", err)
		os.Exit(1)
	}
}

func run(addr, monitor string) error {
	o := &natsserver.Options{NoSigs: true}
	var err error
	if o.Host, o.Port, err = hostPort("-addr", addr); err != nil {
		return err
	}
	if monitor != "" {
		if o.HTTPHost, o.HTTPPort, err = hostPort("-monitor", monitor); err != nil {
			return err
		}
	}
	s, err := natsserver.NewServer(o)
	if err != nil {
		return err
	}
	s.ConfigureLogger()
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		return fmt.Errorf("NATS did not start on %s within 10s (is the port in use?)", addr)
	}
	fmt.Fprintln(os.Stderr, "natsd: NATS listening on", s.ClientURL())
	if a := s.MonitorAddr(); a != nil {
		fmt.Fprintf(os.Stderr, "natsd: monitoring on http://%s/varz\n", a)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	s.Shutdown()
	s.WaitForShutdown()
	return nil
}

// hostPort splits the address of flag name; port 0 becomes NATS's "a free
// port" (-1), as NATS would take 0 for its default port.
func hostPort(name, addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%s %q: %w", name, addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%s %q: the port must be a number from 0 to 65535", name, addr)
	}
	if port == 0 {
		port = -1
	}
	return host, port, nil
}
