// Command fanout measures fan-out: one event sent to many connections over
// real loopback sockets. It runs as the sending server or as the receiving
// clients, in two processes (bench/run.sh pins them to one CPU each):
//
//	fanout -serve netpoll -conns 10000 -events 200    # or goroutine, or floor
//	fanout -url ws://127.0.0.1:9310/ -conns 10000 -events 200
//
// Once -conns clients are connected, the server sends -events events to
// every one: the wsrpc server with Server.EmitEncoded (each event encoded
// once, its bytes queued on every connection), the floor with a raw
// gobwas/ws loop that writes the same frames to every socket in turn. Every
// -burst events the server waits until every connection has written what it
// queued (so that memory stays bounded by the clients' reading); the floor
// writes the burst's frames to each socket in one write, as a wsrpc
// connection writes the messages queued meanwhile in one write. The server
// prints the allocations it made per recipient; the clients print the
// events delivered per second (each to every connection) and the deliveries
// per second, from the first byte received to the last.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/server"
)

type options struct {
	serve  string
	addr   string
	url    string
	conns  int
	events int
	burst  int
	prof   string
}

func main() {
	var o options
	flag.StringVar(&o.serve, "serve", "", "run the server: netpoll, goroutine (wsrpc) or floor (raw gobwas/ws)")
	flag.StringVar(&o.addr, "addr", "127.0.0.1:9310", "server: address to listen on")
	flag.StringVar(&o.url, "url", "ws://127.0.0.1:9310/", "clients: WebSocket URL of the server")
	flag.IntVar(&o.conns, "conns", 10000, "connections")
	flag.IntVar(&o.events, "events", 200, "events to send to every connection")
	flag.IntVar(&o.burst, "burst", 8, "server: events sent before waiting for the writes")
	flag.StringVar(&o.prof, "cpuprofile", "", "server: write a CPU profile of the sending here")
	flag.Parse()
	var err error
	if o.serve != "" {
		err = serve(o)
	} else {
		err = receive(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fanout:", err)
		os.Exit(1)
	}
}

// event returns the i-th event; every event has the same length, so that
// the clients can count frames by bytes.
func event(i int) []byte { return fmt.Appendf(nil, `{"topic":"tick","seq":"%08d"}`, i) }

// frameLen is the length of an event's frame from the server (unmasked,
// payload under 126 bytes).
var frameLen = 2 + len(event(0))

// sender is one side's way of sending an event to every connection.
type sender interface {
	// ready returns once n connections are up.
	ready(n int) error
	// send sends ev to every connection.
	send(ev []byte) error
	// settle waits until what send queued is written.
	settle() error
}

func serve(o options) error {
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	var s sender
	switch o.serve {
	case "floor":
		f := &floor{}
		go f.accept(ln)
		s = f
	case server.EngineNetpoll, server.EngineGoroutine:
		srv := server.New(nil, &server.Options{Engine: o.serve, Options: wsrpc.Options{KeepaliveInterval: -1}})
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		s = &wsrpcSender{srv: srv}
	default:
		return fmt.Errorf("-serve %q: use netpoll, goroutine or floor", o.serve)
	}
	if err := s.ready(o.conns); err != nil {
		return err
	}
	time.Sleep(200 * time.Millisecond) // the clients' readers start
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	if o.prof != "" {
		f, err := os.Create(o.prof)
		if err != nil {
			return err
		}
		defer f.Close()
		_ = pprof.StartCPUProfile(f)
	}
	start := time.Now()
	for i := range o.events {
		if err := s.send(event(i)); err != nil {
			return err
		}
		if (i+1)%o.burst == 0 {
			if err := s.settle(); err != nil {
				return err
			}
		}
	}
	if err := s.settle(); err != nil {
		return err
	}
	took := time.Since(start)
	runtime.ReadMemStats(&m1)
	if o.prof != "" {
		pprof.StopCPUProfile()
	}
	recipients := float64(o.conns) * float64(o.events)
	fmt.Printf("fanout server=%s conns=%d events=%d took=%s allocs/recipient=%.3f bytes/recipient=%.1f\n",
		o.serve, o.conns, o.events, took.Round(time.Millisecond),
		float64(m1.Mallocs-m0.Mallocs)/recipients, float64(m1.TotalAlloc-m0.TotalAlloc)/recipients)
	time.Sleep(time.Second) // the clients read the rest
	return nil
}

// wsrpcSender sends with Server.EmitEncoded.
type wsrpcSender struct {
	srv   *server.Server
	conns []*wsrpc.Conn
}

func (w *wsrpcSender) ready(n int) error {
	for deadline := time.Now().Add(2 * time.Minute); len(w.srv.Clients()) < n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d clients connected", len(w.srv.Clients()), n)
		}
	}
	w.conns = w.srv.Clients()
	return nil
}

func (w *wsrpcSender) send(ev []byte) error {
	msg, err := wsrpc.EncodeEvent(json.RawMessage(ev))
	if err != nil {
		return err
	}
	if n := w.srv.EmitEncoded(msg); n != len(w.conns) {
		return fmt.Errorf("%d of %d connections took the event", n, len(w.conns))
	}
	return nil
}

func (w *wsrpcSender) settle() error {
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		var queued int64
		for _, c := range w.conns {
			queued += c.Stats().SendQueueBytes
		}
		if queued == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d bytes still queued after a minute", queued)
		}
	}
}

// floor is raw gobwas/ws: a loop that writes the same frame to every
// socket in turn.
type floor struct {
	mu     sync.Mutex
	conns  []net.Conn
	frames []byte // the burst's frames
}

func (f *floor) accept(ln net.Listener) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			if _, err := ws.Upgrade(nc); err != nil {
				nc.Close()
				return
			}
			f.mu.Lock()
			f.conns = append(f.conns, nc)
			f.mu.Unlock()
		}()
	}
}

func (f *floor) ready(n int) error {
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
		f.mu.Lock()
		have := len(f.conns)
		f.mu.Unlock()
		if have >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d clients connected", have, n)
		}
	}
}

// send adds ev's frame to what settle writes.
func (f *floor) send(ev []byte) error {
	f.frames = append(f.frames, 0x81, byte(len(ev)))
	f.frames = append(f.frames, ev...)
	return nil
}

// settle writes the frames of the burst to every socket in turn, in one
// write each, as the wsrpc server's connections write what they queued
// meanwhile.
func (f *floor) settle() error {
	for _, nc := range f.conns {
		if _, err := nc.Write(f.frames); err != nil {
			return err
		}
	}
	f.frames = f.frames[:0]
	return nil
}

// receive opens the connections and reads until each got every event.
func receive(o options) error {
	want := int64(o.events) * int64(frameLen)
	var first atomic.Int64 // unix nanoseconds of the first byte, 0 before
	var wg sync.WaitGroup
	errs := make(chan error, o.conns)
	readers := make([]io.Reader, 0, o.conns)
	for i := range o.conns {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		nc, br, _, err := ws.Dial(ctx, o.url)
		cancel()
		if err != nil {
			return fmt.Errorf("dial %d: %w", i, err)
		}
		defer nc.Close()
		var r io.Reader = nc
		if br != nil {
			r = io.MultiReader(br, nc)
		}
		readers = append(readers, r)
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Minute))
	}
	for _, r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 4096)
			var got int64
			for got < want {
				n, err := r.Read(buf)
				if n > 0 && got == 0 {
					first.CompareAndSwap(0, time.Now().UnixNano())
				}
				got += int64(n)
				if err != nil {
					errs <- fmt.Errorf("read after %d of %d bytes: %w", got, want, err)
					return
				}
			}
			if got != want {
				errs <- fmt.Errorf("read %d bytes, want %d (a message the events do not account for)", got, want)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	took := time.Duration(time.Now().UnixNano() - first.Load())
	fmt.Printf("fanout url=%s conns=%d events=%d took=%s events/s=%.0f deliveries/s=%.0f\n",
		o.url, o.conns, o.events, took.Round(time.Millisecond),
		float64(o.events)/took.Seconds(), float64(o.events)*float64(o.conns)/took.Seconds())
	return nil
}
