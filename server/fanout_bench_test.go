package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/internal/testkit"
	"github.com/wsrpc/wsrpc-go/server"
)

// fanOutConns is how many loopback connections BenchmarkFanOut sends to
// (bench/cmd/fanout does 10,000, in two processes).
const fanOutConns = 256

// fanOutBurst is how many events go out before the sender waits for the
// writes, as in bench/cmd/fanout.
const fanOutBurst = 8

// BenchmarkFanOut sends one event to fanOutConns connections per op, with
// Server.EmitEncoded under each engine and with a raw gobwas/ws loop that
// writes the same frames to every socket (floor). It reports deliveries/s
// and the sender's allocations per recipient (allocs/op counts a whole
// fan-out).
//
//	go test -run '^$' -bench FanOut -benchtime 2000x ./server
func BenchmarkFanOut(b *testing.B) {
	for _, engine := range []string{"floor", server.EngineGoroutine, server.EngineNetpoll} {
		b.Run(engine, func(b *testing.B) { benchFanOut(b, engine) })
	}
}

// fanSender is one way of sending an event to every connection: send
// queues it, settle waits until what was queued is written.
type fanSender struct {
	send   func(ev []byte)
	settle func()
}

func benchFanOut(b *testing.B, engine string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	defer ln.Close()
	var s fanSender
	if engine == "floor" {
		s = floorSender(b, ln)
	} else {
		s = wsrpcSender(b, ln, engine)
	}
	rd := testkit.DialReaders(b, "ws://"+ln.Addr().String()+"/", fanOutConns)
	defer rd.Close()
	events := make([][]byte, fanOutBurst)
	for i := range events {
		events[i] = fmt.Appendf(nil, `{"topic":"tick","seq":"%08d"}`, i)
	}
	frameLen := int64(2 + len(events[0]))
	s.settle() // every connection is up
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		s.send(events[i%len(events)])
		if (i+1)%fanOutBurst == 0 {
			s.settle()
		}
	}
	s.settle()
	rd.Wait(b, int64(b.N)*frameLen)
	took := time.Since(start)
	b.StopTimer()
	runtime.ReadMemStats(&m1)
	recipients := float64(b.N) * fanOutConns
	b.ReportMetric(recipients/took.Seconds(), "deliveries/s")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/recipients, "allocs/recipient")
}

// floorSender is raw gobwas/ws: the burst's frames written to every socket
// in turn, in one write each.
func floorSender(b *testing.B, ln net.Listener) fanSender {
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			if _, err := ws.Upgrade(nc); err != nil {
				nc.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
		}
	}()
	b.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, nc := range conns {
			nc.Close()
		}
	})
	var frames []byte
	return fanSender{
		send: func(ev []byte) { frames = append(append(frames, 0x81, byte(len(ev))), ev...) },
		settle: func() {
			testkit.WaitFor(b, func() bool { mu.Lock(); defer mu.Unlock(); return len(conns) == fanOutConns })
			for _, nc := range conns {
				if _, err := nc.Write(frames); err != nil {
					b.Fatal(err)
				}
			}
			frames = frames[:0]
		},
	}
}

// wsrpcSender sends with Server.EmitEncoded, each event encoded once.
func wsrpcSender(b *testing.B, ln net.Listener, engine string) fanSender {
	srv := server.New(nil, &server.Options{Engine: engine, Options: wsrpc.Options{KeepaliveInterval: -1}})
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { srv.Close() })
	var conns []*wsrpc.Conn
	return fanSender{
		send: func(ev []byte) {
			msg, err := wsrpc.EncodeEvent(json.RawMessage(ev))
			if err != nil {
				b.Fatal(err)
			}
			if n := srv.EmitEncoded(msg); n != fanOutConns {
				b.Fatalf("%d of %d connections took the event", n, fanOutConns)
			}
		},
		settle: func() {
			if conns == nil {
				testkit.WaitFor(b, func() bool { return len(srv.Clients()) == fanOutConns })
				conns = srv.Clients()
			}
			testkit.WaitFor(b, func() bool {
				for _, c := range conns {
					if c.Stats().SendQueueBytes > 0 {
						return false
					}
				}
				return true
			})
		},
	}
}

// BenchmarkBroadcast calls a method on fanOutConns connections per op with
// Server.Broadcast (one frame encoded once, shared by every connection
// under one id) and waits for every answer. The clients answer with no
// allocation, so allocs/recipient is the server's: a broadcast call keeps
// a pending entry and copies the result per client.
//
//	go test -run '^$' -bench Broadcast -benchtime 500x ./server
func BenchmarkBroadcast(b *testing.B) {
	for _, engine := range []string{server.EngineGoroutine, server.EngineNetpoll} {
		b.Run(engine, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(b, err)
			defer ln.Close()
			srv := server.New(nil, &server.Options{Engine: engine, Options: wsrpc.Options{KeepaliveInterval: -1}})
			go func() { _ = srv.Serve(ln) }()
			defer srv.Close()
			var wg sync.WaitGroup
			for range fanOutConns {
				nc, br, _, err := ws.Dial(context.Background(), "ws://"+ln.Addr().String()+"/")
				require.NoError(b, err)
				defer nc.Close()
				var r io.Reader = nc
				if br != nil {
					r = io.MultiReader(br, nc)
				}
				wg.Add(1)
				go func() { defer wg.Done(); answerCalls(r, nc) }()
			}
			testkit.WaitFor(b, func() bool { return len(srv.Clients()) == fanOutConns })
			ctx := context.Background()
			runtime.GC()
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				for _, r := range srv.Broadcast(ctx, "tick", nil) {
					if r.Err != nil {
						b.Fatal(r.Err)
					}
				}
			}
			took := time.Since(start)
			b.StopTimer()
			runtime.ReadMemStats(&m1)
			recipients := float64(b.N) * fanOutConns
			b.ReportMetric(recipients/took.Seconds(), "calls/s")
			b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/recipients, "allocs/recipient")
			srv.Close()
			wg.Wait()
		})
	}
}

// answerCalls answers each call frame {"id":N,...} read from r with
// {"id":N,"result":1}, without allocating: frames from the server are
// unmasked and short; the reply is masked with a zero key.
func answerCalls(r io.Reader, w io.Writer) {
	var in [2 + 125]byte
	out := make([]byte, 0, 64)
	for {
		if _, err := io.ReadFull(r, in[:2]); err != nil {
			return
		}
		n := int(in[1] & 0x7f)
		if n > 125 {
			return
		}
		p := in[2 : 2+n]
		if _, err := io.ReadFull(r, p); err != nil {
			return
		}
		const pre = `{"id":`
		if in[0]&0x0f != byte(ws.OpText) || len(p) < len(pre) || string(p[:len(pre)]) != pre {
			continue
		}
		id := p[len(pre):]
		for k, ch := range id {
			if ch < '0' || ch > '9' {
				id = id[:k]
				break
			}
		}
		body := len(pre) + len(id) + len(`,"result":1}`)
		out = append(out[:0], 0x81, 0x80|byte(body), 0, 0, 0, 0)
		out = append(out, pre...)
		out = append(out, id...)
		out = append(out, `,"result":1}`...)
		if _, err := w.Write(out); err != nil {
			return
		}
	}
}
