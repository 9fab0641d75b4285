package nats

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/server"
)

// The soak benchmarks: three nodes on one NATS server, all in this
// process, each served by the netpoll engine (goroutine off Linux).
//
//	go test -run '^$' -bench 'Call|Emit' -benchtime 5s ./cluster/nats
//
// BenchmarkCall reports calls/s and the p99 latency of calls to a client of
// the calling node (same-node, the baseline) and of another node
// (cross-node), 16 callers at once; BenchmarkEmit the events delivered per
// second to the clients of three nodes; BenchmarkCallMix the cross-node
// latency as a ratio of same-node's, both measured in one interleaved run.

// benchNode starts a node served on a loopback port; stop closes it.
func benchNode(b *testing.B, natsURL, name string) (*Node, string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	n, err := New(ctx, nil, &server.Options{Identify: identify}, &Options{Name: name, URL: natsURL, Secret: testSecret})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = n.Server().Serve(ln) }()
	b.Cleanup(func() { _ = n.Close(); _ = ln.Close() })
	return n, "ws://" + ln.Addr().String() + "/ws/"
}

// benchClient connects a client with id that answers echo and counts
// events.
func benchClient(b *testing.B, url, id string, events *atomic.Int64) *client.Client {
	b.Helper()
	reg := wsrpc.NewRegistry()
	reg.MustAdd("echo", wsrpc.Inline(func(ctx context.Context, v json.RawMessage) (json.RawMessage, error) { return v, nil }))
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	c, err := client.Dial(ctx, url+"?id="+id, reg, &client.Options{
		Options: wsrpc.Options{OnEvent: func(*wsrpc.Conn, json.RawMessage) { events.Add(1) }},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return c
}

// benchCluster starts NATS and three nodes with clients clients each, named
// "<node>-<k>", and waits until node 0 sees them all.
func benchCluster(b *testing.B, clients int) ([]*Node, *atomic.Int64) {
	url := startNATS(b)
	var nodes []*Node
	var events atomic.Int64
	for i := range 3 {
		n, wsURL := benchNode(b, url, fmt.Sprintf("n%d", i))
		nodes = append(nodes, n)
		for k := range clients {
			benchClient(b, wsURL, fmt.Sprintf("n%d-%d", i, k), &events)
		}
	}
	eventually(b, func() bool {
		k, err := nodes[0].Count(context.Background())
		return err == nil && k == 3*clients
	}, "node 0 counts every client")
	return nodes, &events
}

func BenchmarkCall(b *testing.B) {
	nodes, _ := benchCluster(b, 4)
	for _, tc := range []struct{ name, prefix string }{
		{"same-node", "n0-"},
		{"cross-node", "n1-"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			const callers = 16
			lat := make([][]time.Duration, callers)
			var next atomic.Int64
			var wg sync.WaitGroup
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			b.ResetTimer()
			start := time.Now()
			for w := range callers {
				to := tc.prefix + fmt.Sprint(w%4)
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						t0 := time.Now()
						var out int
						if err := nodes[0].Call(ctx, to, "echo", 7, &out); err != nil {
							b.Error(err)
							return
						}
						lat[w] = append(lat[w], time.Since(t0))
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			all := slices.Concat(lat...)
			slices.Sort(all)
			if len(all) > 0 {
				b.ReportMetric(float64(len(all))/elapsed.Seconds(), "calls/s")
				b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
			}
		})
	}
}

// BenchmarkCallMix alternates same-node and cross-node calls in one run,
// so that both meet the same load (this machine's is not steady), and
// reports cross-node latency as a ratio of same-node's.
func BenchmarkCallMix(b *testing.B) {
	nodes, _ := benchCluster(b, 4)
	const callers = 16
	lat := make([][2][]time.Duration, callers)
	var next atomic.Int64
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b.ResetTimer()
	for w := range callers {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				kind := int(i % 2) // 0 same-node, 1 cross-node
				to := fmt.Sprintf("n%d-%d", kind, w%4)
				t0 := time.Now()
				var out int
				if err := nodes[0].Call(ctx, to, "echo", 7, &out); err != nil {
					b.Error(err)
					return
				}
				lat[w][kind] = append(lat[w][kind], time.Since(t0))
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	var mean, p99 [2]float64
	for kind := range 2 {
		var all []time.Duration
		for w := range lat {
			all = append(all, lat[w][kind]...)
		}
		if len(all) == 0 {
			return
		}
		slices.Sort(all)
		var sum time.Duration
		for _, d := range all {
			sum += d
		}
		mean[kind] = float64(sum) / float64(len(all))
		p99[kind] = float64(all[len(all)*99/100])
	}
	b.ReportMetric(mean[1]/mean[0], "cross/same-mean")
	b.ReportMetric(p99[1]/p99[0], "cross/same-p99")
	b.ReportMetric(p99[0]/1e3, "same-p99-µs")
	b.ReportMetric(p99[1]/1e3, "cross-p99-µs")
}

// BenchmarkCallCPU measures the CPU time of the whole process (NATS, the
// three nodes and their clients) per call, for calls to a client of the
// calling node and of another node, in alternating blocks of one run so
// that both meet the same machine, and reports the ratio;
// WSRPC_BENCH_CALLERS callers at once (default 16).
//
//	go test -run '^$' -bench CallCPU -benchtime 40000x ./cluster/nats
func BenchmarkCallCPU(b *testing.B) {
	nodes, _ := benchCluster(b, 4)
	callers, block := benchCallers(), 500
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var cpu [2]time.Duration
	var calls [2]int
	b.ResetTimer()
	for done, kind := 0, 0; done < b.N; kind = 1 - kind {
		k := min(block, b.N-done)
		var next atomic.Int64
		var wg sync.WaitGroup
		start := processCPU()
		for w := range callers {
			to := fmt.Sprintf("n%d-%d", kind, w%4)
			wg.Go(func() {
				for next.Add(1) <= int64(k) {
					var out int
					if err := nodes[0].Call(ctx, to, "echo", 7, &out); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		cpu[kind] += processCPU() - start
		calls[kind] += k
		done += k
	}
	b.StopTimer()
	if calls[0] == 0 || calls[1] == 0 {
		return
	}
	same := float64(cpu[0].Microseconds()) / float64(calls[0])
	cross := float64(cpu[1].Microseconds()) / float64(calls[1])
	b.ReportMetric(same, "same-cpu-µs/call")
	b.ReportMetric(cross, "cross-cpu-µs/call")
	b.ReportMetric(cross/same, "cross/same-cpu")
}

// benchCallers is how many goroutines call at once in BenchmarkCallCPU:
// WSRPC_BENCH_CALLERS, default 16.
func benchCallers() int {
	if k, err := strconv.Atoi(os.Getenv("WSRPC_BENCH_CALLERS")); err == nil && k > 0 {
		return k
	}
	return 16
}

// processCPU returns the CPU time (user and system) of this process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkEmit(b *testing.B) {
	const clients = 10 // per node
	nodes, events := benchCluster(b, clients)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ev, err := wsrpc.EncodeEvent(map[string]string{"news": "the same event to every client of every node"})
	if err != nil {
		b.Fatal(err)
	}
	events.Store(0)
	b.ResetTimer()
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range 8 { // emitters at once: each Emit waits for NATS's ack
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if err := nodes[w%3].EmitEncoded(ctx, ev); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	want := int64(b.N) * 3 * clients
	deadline := time.Now().Add(time.Minute)
	for events.Load() < want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	got := events.Load()
	b.ReportMetric(float64(got)/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(got)/float64(want), "delivered-ratio")
}
