package server_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/server"
)

func openFDs(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the soak test counts descriptors in /proc/self/fd, which CI (Linux) must have: %v", err)
		}
		t.Skip("SKIPPED: needs /proc/self/fd (Linux) to count descriptors")
	}
	return len(entries)
}

func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// TestSoakAbuse opens 600 connections that flood calls, drop
// abruptly (RST), stop reading, or send garbage, all at once, and checks
// that afterwards goroutines, file descriptors and heap are back near their
// baseline and that a well-behaved client was served throughout. Bounded in
// count and time; loopback only.
func TestSoakAbuse(t *testing.T) {
	forEachEngine(t, testSoakAbuse)
}

func testSoakAbuse(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED: soak test (not with -short)")
	}
	baseG, baseFD, baseHeap := runtime.NumGoroutine(), openFDs(t), heapInuse()

	reg := testRegistry(t)
	reg.MustAdd("blob", func() string { return string(make([]byte, 32<<10)) })
	srv := newTestServer(reg, &server.Options{
		Options: wsrpc.Options{KeepaliveInterval: -1, MaxSendQueueBytes: 256 << 10,
			WriteTimeout: 2 * time.Second},
	})
	url := startServer(t, srv)
	addr := url[len("ws://") : len(url)-len("/ws/")]

	good := dial(t, url, nil, nil)
	stopGood := make(chan struct{})
	var goodCalls atomic.Int64 // read by the test while the client runs
	var goodErrs int
	var goodErr, lastErr error // the first and last failures, for the message
	var gwg sync.WaitGroup
	gwg.Add(1)
	go func() {
		defer gwg.Done()
		for {
			select {
			case <-stopGood:
				return
			default:
			}
			// Generous: under the race detector on two cores, the abuse
			// below (megabytes of replies nobody reads) makes the garbage
			// collector stall everyone for seconds at times. A starved
			// client would fail for the whole run.
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			if _, err := wsrpc.Call[int](ctx, good, "subtract", map[string]int{"a": 2, "b": 1}); err != nil {
				goodErrs++
				if goodErr == nil {
					goodErr = err
				}
				lastErr = err
			}
			cancel()
			goodCalls.Add(1)
		}
	}()

	var wg sync.WaitGroup
	sem := make(chan struct{}, 100)
	open := func(f func(nc net.Conn)) {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			nc, _, _, err := ws.Dial(ctx, url)
			if err != nil {
				return
			}
			f(nc)
		}()
	}
	for i := 0; i < 600; i++ {
		switch i % 4 {
		case 0: // floods calls and reads the replies
			open(func(nc net.Conn) {
				defer nc.Close()
				for j := 0; j < 50; j++ {
					_, _ = nc.Write(maskedText(fmt.Sprintf(`{"id":%d,"method":"subtract","params":{"a":%d,"b":1}}`, j+1, j)))
				}
				r := &rawConn{T: t, NC: nc, RW: nc}
				for j := 0; j < 50; j++ {
					if _, err := r.ReadErr(5 * time.Second); err != nil {
						return
					}
				}
			})
		case 1: // sends calls and resets the connection
			open(func(nc net.Conn) {
				for j := 0; j < 20; j++ {
					_, _ = nc.Write(maskedText(fmt.Sprintf(`{"id":%d,"method":"sleep","params":{"ms":50}}`, j+1)))
				}
				if tc, ok := nc.(*net.TCPConn); ok {
					_ = tc.SetLinger(0)
				}
				nc.Close()
			})
		case 2: // asks for big replies and never reads
			open(func(nc net.Conn) {
				for j := 0; j < 40; j++ {
					_, _ = nc.Write(maskedText(fmt.Sprintf(`{"id":%d,"method":"blob"}`, j+1)))
				}
				time.Sleep(300 * time.Millisecond)
				nc.Close()
			})
		default: // garbage: invalid frames and invalid JSON
			open(func(nc net.Conn) {
				_, _ = nc.Write(maskedText(`{"id":1,"method":`))
				_, _ = nc.Write([]byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'}) // unmasked: protocol error
				time.Sleep(50 * time.Millisecond)
				nc.Close()
			})
		}
	}
	// Half-open TCP connections that never finish a handshake.
	var halfOpen []net.Conn
	for i := 0; i < 50; i++ {
		if nc, err := net.Dial("tcp", addr); err == nil {
			_, _ = nc.Write([]byte("GET /ws/ HTTP/1.1\r\n"))
			halfOpen = append(halfOpen, nc)
		}
	}
	waitGroup(t, &wg, "the abusive connections")
	for _, nc := range halfOpen {
		nc.Close()
	}
	// The well-behaved client goes on until it has made a few calls: a
	// count, not a rate (a loaded machine may let it make few during the
	// abuse), with every one of them answered (goodErrs below).
	require.Eventually(t, func() bool { return goodCalls.Load() > 10 }, 30*time.Second, 10*time.Millisecond,
		"the well-behaved client made no progress")
	close(stopGood)
	waitGroup(t, &gwg, "the well-behaved client")
	require.Zero(t, goodErrs, "the well-behaved client must be served throughout; first error: %v; last: %v", goodErr, lastErr)
	require.NoError(t, good.Close())

	// Everything the abuse left behind must go away.
	require.Eventually(t, func() bool { return len(srv.Clients()) == 0 }, 15*time.Second, 20*time.Millisecond,
		"connections still registered: %d", len(srv.Clients()))
	require.NoError(t, srv.Close())
	require.Eventually(t, func() bool {
		return runtime.NumGoroutine() <= baseG+20 && openFDs(t) <= baseFD+60
	}, 2*wsrpc.IdleWorkerTimeout+5*time.Second, 50*time.Millisecond, "goroutines %d (baseline %d), fds %d (baseline %d)",
		runtime.NumGoroutine(), baseG, openFDs(t), baseFD)
	require.Less(t, heapInuse(), baseHeap+32<<20, "heap did not return near its baseline")
}
