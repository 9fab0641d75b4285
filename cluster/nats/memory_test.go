package nats

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/server"
)

// BenchmarkIdleNodeMemory measures what other nodes' clients cost a node
// that has none: the heap (after GC) and RSS of this process, which runs
// only that node, while two helper processes (this test binary again)
// hold NATS and two nodes with WSRPC_BENCH_CLIENTS clients in all
// (default 15,000), against the same node's figures before they
// connected. The node asks the cluster's count, looks one client up and
// calls it, as a node in use does.
//
//	go test -run '^$' -bench IdleNodeMemory -benchtime 1x ./cluster/nats
func BenchmarkIdleNodeMemory(b *testing.B) {
	total := 15000
	if s := os.Getenv("WSRPC_BENCH_CLIENTS"); s != "" {
		total, _ = strconv.Atoi(s)
	}
	natsURL, stopA := memHelper(b, "", "big1", 0)
	defer stopA()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	n, err := New(ctx, nil, nil, &Options{Name: "idle", URL: natsURL, Secret: testSecret})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	use := func() {
		if _, err := n.Count(ctx); err != nil {
			b.Fatal(err)
		}
	}
	use()
	heap0, rss0 := footprint()
	_, stopB := memHelper(b, natsURL, "big2", total/2)
	defer stopB()
	_, stopC := memHelper(b, natsURL, "big3", total-total/2)
	defer stopC()
	for k := 0; ; k++ {
		c, err := n.Count(ctx)
		if err == nil && c == total {
			break
		}
		if k > 6000 {
			b.Fatalf("the cluster counts %d clients (%v), want %d", c, err, total)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := n.Lookup(ctx, "big2-7"); err != nil {
		b.Fatal(err)
	}
	if err := n.Call(ctx, "big3-7", "echo", 1, nil); err != nil {
		b.Fatal(err)
	}
	time.Sleep(3 * DefaultHeartbeatInterval) // heartbeats, acks, settled state
	heap1, rss1 := footprint()
	b.ReportMetric(float64(total), "clients-elsewhere")
	b.ReportMetric(float64(heap0)/1e6, "heap-empty-MB")
	b.ReportMetric(float64(heap1)/1e6, "heap-with-clients-MB")
	b.ReportMetric((float64(heap1)-float64(heap0))/1e6, "heap-growth-MB")
	b.ReportMetric((float64(rss1)-float64(rss0))/1e6, "rss-growth-MB")
}

// footprint returns the heap in use after a GC and the RSS of this
// process.
func footprint() (heap, rss uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			pages, _ := strconv.ParseUint(f[1], 10, 64)
			rss = pages * uint64(os.Getpagesize())
		}
	}
	return m.HeapInuse, rss
}

// memHelper starts this test binary as a helper process holding a node
// (and NATS, when natsURL is empty) with clients clients; it returns
// NATS's URL once they are all connected, and a stop function.
func memHelper(b *testing.B, natsURL, name string, clients int) (string, func()) {
	p := startTestProcess(b, "TestMemHelperProcess", "WSRPC_MEM_HELPER="+name, "WSRPC_MEM_NATS="+natsURL, "WSRPC_MEM_CLIENTS="+strconv.Itoa(clients))
	url, ok := strings.CutPrefix(p.next(b, "helper "+name+" ready", 10*time.Minute), "READY ")
	if !ok {
		b.Fatalf("helper %s: no URL", name)
	}
	return url, func() { _ = p.stdin.Close(); _ = p.cmd.Wait() }
}

// TestMemHelperProcess is BenchmarkIdleNodeMemory's helper process; it
// does nothing in a normal test run.
func TestMemHelperProcess(t *testing.T) {
	name := os.Getenv("WSRPC_MEM_HELPER")
	if name == "" {
		t.Skip("a helper process of BenchmarkIdleNodeMemory")
	}
	natsURL := os.Getenv("WSRPC_MEM_NATS")
	clients, _ := strconv.Atoi(os.Getenv("WSRPC_MEM_CLIENTS"))
	if natsURL == "" {
		s, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		if !s.ReadyForConnections(testBound) {
			t.Fatal("NATS did not start")
		}
		defer s.Shutdown()
		natsURL = s.ClientURL()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	n, err := New(ctx, nil, &server.Options{Identify: identify, MaxConnections: clients + 10}, &Options{Name: name, URL: natsURL, Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = n.Server().Serve(ln) }()
	reg := wsrpc.NewRegistry()
	reg.MustAdd("echo", wsrpc.Inline(func(ctx context.Context, v int) (int, error) { return v, nil }))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []*client.Client
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for k := range next {
				c, err := client.Dial(ctx, fmt.Sprintf("ws://%s/ws/?id=%s-%d", ln.Addr(), name, k), reg, nil)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		})
	}
	for k := range clients {
		next <- k
	}
	close(next)
	wg.Wait()
	fmt.Println("READY " + natsURL)
	_, _ = io.Copy(io.Discard, os.Stdin) // until the benchmark closes it
	for _, c := range conns {
		_ = c.Close()
	}
}
