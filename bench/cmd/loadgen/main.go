// Command loadgen loads a wsrpc server over loopback and reports what it
// measured. Every reply is checked.
//
// Load mode: N connections each keep D calls in flight for a duration and
// report calls/s and p50/p99/max latency, and the generator's own CPU use.
// With -pid it also reports the server's CPU use, its CPU time per call and
// its read and write system calls per call (from /proc/PID), all counted
// over the same measured window.
//
//	loadgen -url ws://127.0.0.1:8000/ws/ -conns 64 -depth 16 -duration 10s -call subtract -pid $(pidof server)
//	loadgen ... -call kv        # kv.set then kv.get of the same key, checked
//	loadgen ... -call ping      # the built-in ping, its params echoed
//
// The generator allocates nothing per call (reused buffers, one write per
// read, replies walked in place), so that one core of it can saturate one
// core of a lean server.
//
// Idle mode: open N connections, make one kv.set on each, and report the
// server's resident memory per connection from /proc/PID/status.
//
//	loadgen -url ws://127.0.0.1:8000/ws/ -idle -conns 19000 -pid $(pidof server) -sources 8
//
// Connections are spread over -sources source addresses 127.0.0.1,
// 127.0.0.2, … so that many connections do not exhaust one address's
// ephemeral ports. The program answers the server's keepalive pings.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/gobwas/ws"
)

func main() {
	var o options
	flag.StringVar(&o.url, "url", "ws://127.0.0.1:8000/ws/", "WebSocket URL of the server")
	flag.IntVar(&o.conns, "conns", 64, "connections")
	flag.IntVar(&o.depth, "depth", 16, "calls in flight per connection")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "how long to load (load mode)")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "load before measuring starts")
	flag.StringVar(&o.call, "call", "subtract", "calls to make: subtract, kv or ping")
	flag.BoolVar(&o.idle, "idle", false, "idle mode: open connections, one kv.set each, report server RSS per connection")
	flag.IntVar(&o.pid, "pid", 0, "server process id: its CPU and system calls per call (load mode), its memory (idle mode)")
	flag.IntVar(&o.sources, "sources", 1, "source addresses 127.0.0.1 … 127.0.0.N")
	flag.DurationVar(&o.hold, "hold", 0, "idle mode: keep the connections open this long after measuring, then measure again (keepalive pings run meanwhile)")
	flag.Parse()
	var err error
	if o.idle {
		err = runIdle(o)
	} else {
		err = runLoad(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

type options struct {
	url              string
	conns, depth     int
	duration, warmup time.Duration
	call             string
	idle             bool
	pid, sources     int
	hold             time.Duration
}

// dial opens one WebSocket connection from source address index i.
func dial(ctx context.Context, o options, i int) (net.Conn, *bufio.Reader, error) {
	d := ws.Dialer{}
	if o.sources > 1 {
		local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%o.sources))}
		d.NetDial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			nd := net.Dialer{LocalAddr: local}
			return nd.DialContext(ctx, network, addr)
		}
	}
	nc, br, _, err := d.Dial(ctx, o.url)
	if err != nil {
		return nil, nil, err
	}
	if br == nil {
		br = bufio.NewReaderSize(nc, 16<<10)
	}
	return nc, br, nil
}
