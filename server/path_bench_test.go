package server_test

import (
	"sync"
	"testing"
	"time"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/examples/introduction/intro"
	"github.com/wsrpc/wsrpc-go/internal/testkit"
	"github.com/wsrpc/wsrpc-go/server"
)

// discardHost is a session.Host whose writes never block and go nowhere.
type discardHost struct {
	mu sync.Mutex // protects the following
	n  int
}

func (h *discardHost) written() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

func (h *discardHost) Write(b []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n += len(b)
	return len(b), nil
}

func (h *discardHost) Drop()                  {}
func (h *discardHost) WriteNeverBlocks() bool { return true }

// BenchmarkServePath measures the server's share of a call on the path
// every engine takes once bytes arrived: frames unmasked and parsed, calls
// of the introduction's routes routed, decoded, run, encoded, framed and
// written, 16 calls per read as under load (no system calls: the host
// discards what is written). It reports ns per call; under valgrind
// --tool=callgrind it gives instructions per call that other work on the
// machine does not move.
func BenchmarkServePath(b *testing.B) {
	for _, call := range []string{"subtract", "kv"} {
		b.Run(call, func(b *testing.B) {
			// A budget that an instrumented run (valgrind) does not exceed either,
			// so that every call stays inline as on a real machine.
			srv := server.New(intro.ServerRoutes(), &server.Options{Options: wsrpc.Options{InlineBudget: time.Minute}})
			h := &discardHost{}
			head := "GET /ws/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
			sess, _, err := srv.Upgrade(h, []byte(head), nil)
			if err != nil {
				b.Fatal(err)
			}
			const batch = 16
			var reads [][]byte
			for _, msgs := range testkit.BenchReads(call, 64, batch) {
				var buf []byte
				for _, msg := range msgs {
					buf = append(buf, maskedText(msg)...)
				}
				reads = append(reads, buf)
			}
			// The first call of a struct route runs its Init on a worker:
			// let it be done before timing the reads.
			written := h.written()
			if err := sess.Feed(maskedText(`{"id":1,"method":"kv.get","params":{"key":"warm-up"}}`)); err != nil {
				b.Fatal(err)
			}
			for h.written() == written {
				time.Sleep(time.Millisecond)
			}
			scratch := make([]byte, 0, 4096)
			b.ReportAllocs()
			calls := 0
			for i := 0; b.Loop(); i++ {
				scratch = append(scratch[:0], reads[i%len(reads)]...) // Feed unmasks in place
				if err := sess.Feed(scratch); err != nil {
					b.Fatal(err)
				}
				calls += batch
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(calls), "ns/call")
			if h.n == 0 {
				b.Fatal("nothing was written")
			}
		})
	}
}
