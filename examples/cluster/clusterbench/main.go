// Command clusterbench measures a running cluster of examples/cluster
// nodes, each its own process, from the outside: the CPU per call each
// process spends (from /proc) for calls between clients of one node and
// between clients of two, the memory of a node without clients while
// 15,000 clients sit on the others, and NATS's traffic (its /varz).
// scripts/cluster-bench.sh starts NATS and three nodes (-insecure-ids, so
// that ids can be chosen) and runs it:
//
//	clusterbench -nodes ws://A/ws/,ws://B/ws/,ws://C/ws/ \
//	    -pids n1=PID,n2=PID,n3=PID,nats=PID -varz http://M/varz
//
// Calls go through the example's tell route: a caller on n1 asks its node
// to call method "bump" on another client, on n1 (same-node) or on n2
// (cross-node). n3 never has a client.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
)

func main() {
	nodes := flag.String("nodes", "", "the WebSocket URLs of nodes n1,n2,n3, comma-separated")
	pids := flag.String("pids", "", "name=pid of each process to measure, comma-separated (n1,n2,n3,nats)")
	varz := flag.String("varz", "", "NATS's /varz URL")
	calls := flag.Int("calls", 20000, "calls per phase")
	callers := flag.String("callers", "16", "concurrent callers, comma-separated: each runs both phases")
	idle := flag.Int("clients", 15000, "clients put on n1 and n2 for the memory and traffic figures")
	window := flag.Duration("window", 10*time.Second, "how long NATS's idle traffic is sampled")
	flag.Parse()
	b, err := newBench(strings.Split(*nodes, ","), *pids, *varz)
	if err == nil {
		err = b.run(*calls, *callers, *idle, *window)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "clusterbench:", err)
		os.Exit(1)
	}
}

// bench is a measured cluster.
type bench struct {
	urls  []string
	procs []proc
	varz  string
}

// proc is a measured process.
type proc struct {
	name string
	pid  int
}

func newBench(urls []string, pids, varz string) (*bench, error) {
	if len(urls) != 3 {
		return nil, fmt.Errorf("-nodes needs the URLs of n1,n2,n3")
	}
	b := &bench{urls: urls, varz: varz}
	for _, kv := range strings.Split(pids, ",") {
		name, v, ok := strings.Cut(kv, "=")
		pid, err := strconv.Atoi(v)
		if !ok || err != nil {
			return nil, fmt.Errorf("-pids: %q is not name=pid", kv)
		}
		b.procs = append(b.procs, proc{name, pid})
	}
	return b, nil
}

func (b *bench) run(calls int, callers string, idle int, window time.Duration) error {
	ctx := context.Background()
	fmt.Printf("CPU per call (µs, from /proc utime+stime), %d calls a phase through the tell route\n", calls)
	for _, s := range strings.Split(callers, ",") {
		k, err := strconv.Atoi(s)
		if err != nil || k < 1 {
			return fmt.Errorf("-callers: %q", s)
		}
		same, err := b.phase(ctx, "same", k, calls, b.urls[0])
		if err != nil {
			return err
		}
		cross, err := b.phase(ctx, "cross", k, calls, b.urls[1])
		if err != nil {
			return err
		}
		b.report(k, same, cross)
	}
	return b.memory(ctx, idle, window)
}

// usage is what a phase cost: CPU seconds per process, NATS's counters.
type usage struct {
	cpu        map[string]float64
	msgs, byts float64
	calls      int
	wall       time.Duration
}

// phase runs calls calls from callers clients on n1 to as many clients on
// target, and returns what each process spent.
func (b *bench) phase(ctx context.Context, name string, callers, calls int, target string) (usage, error) {
	var conns []*client.Client
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for i := range callers {
		t, err := dial(ctx, target, fmt.Sprintf("%s-t%d-%d", name, callers, i))
		if err != nil {
			return usage{}, err
		}
		c, err := dial(ctx, b.urls[0], fmt.Sprintf("%s-c%d-%d", name, callers, i))
		if err != nil {
			return usage{}, err
		}
		conns = append(conns, t, c)
	}
	// A warm-up, then the measured calls.
	if err := drive(ctx, conns, name, callers, callers*50); err != nil {
		return usage{}, err
	}
	u0, err := b.sample()
	if err != nil {
		return usage{}, err
	}
	start := time.Now()
	if err := drive(ctx, conns, name, callers, calls); err != nil {
		return usage{}, err
	}
	u1, err := b.sample()
	if err != nil {
		return usage{}, err
	}
	d := u1.minus(u0)
	d.calls, d.wall = calls, time.Since(start)
	return d, nil
}

// drive makes calls calls, callers at once: caller i (conns[2i+1]) tells
// its node to call bump on its target (conns[2i]).
func drive(ctx context.Context, conns []*client.Client, name string, callers, calls int) error {
	var left atomic.Int64
	left.Store(int64(calls))
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Go(func() {
			p := map[string]any{"to": fmt.Sprintf("%s-t%d-%d", name, callers, i), "method": "bump", "params": map[string]int{"n": i}}
			for left.Add(-1) >= 0 {
				var n int
				if err := conns[2*i+1].Call(ctx, "tell", p, &n); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// dial connects a client with id to url; it answers bump.
func dial(ctx context.Context, url, id string) (*client.Client, error) {
	reg := wsrpc.NewRegistry()
	reg.MustAdd("bump", func(_ context.Context, p struct {
		N int `json:"n"`
	}) (int, error) {
		return p.N + 1, nil
	})
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url+"?id="+id, reg, nil)
	if err != nil {
		return nil, fmt.Errorf("connect %s to %s: %w", id, url, err)
	}
	return c, nil
}

// sample reads each process's CPU time and NATS's message counters.
func (b *bench) sample() (usage, error) {
	u := usage{cpu: map[string]float64{}}
	for _, p := range b.procs {
		s, err := cpuSeconds(p.pid)
		if err != nil {
			return u, err
		}
		u.cpu[p.name] = s
	}
	v, err := b.nats()
	u.msgs, u.byts = v.InMsgs+v.OutMsgs, v.InBytes+v.OutBytes
	return u, err
}

func (u usage) minus(v usage) usage {
	d := usage{cpu: map[string]float64{}, msgs: u.msgs - v.msgs, byts: u.byts - v.byts}
	for k, s := range u.cpu {
		d.cpu[k] = s - v.cpu[k]
	}
	return d
}

// report prints the per-call CPU of each process in both phases and the
// ratios.
func (b *bench) report(callers int, same, cross usage) {
	fmt.Printf("\n%d callers (same-node %.0f calls/s, cross-node %.0f calls/s)\n", callers,
		float64(same.calls)/same.wall.Seconds(), float64(cross.calls)/cross.wall.Seconds())
	fmt.Printf("  %-8s %12s %12s\n", "process", "same-node", "cross-node")
	var nodesSame, nodesCross float64
	for _, p := range b.procs {
		s, c := perCall(same, p.name), perCall(cross, p.name)
		fmt.Printf("  %-8s %12.1f %12.1f\n", p.name, s, c)
		if p.name != "nats" {
			nodesSame += s
			nodesCross += c
		}
	}
	natsSame, natsCross := perCall(same, "nats"), perCall(cross, "nats")
	fmt.Printf("  %-8s %12.1f %12.1f\n", "nodes", nodesSame, nodesCross)
	fmt.Printf("  NATS messages per call: same-node %.2f, cross-node %.2f (in+out, bytes %.0f / %.0f)\n",
		same.msgs/float64(same.calls), cross.msgs/float64(cross.calls), same.byts/float64(same.calls), cross.byts/float64(cross.calls))
	fmt.Printf("  cross/same, the nodes: %.2fx; with nats-server: %.2fx\n",
		nodesCross/nodesSame, (nodesCross+natsCross)/(nodesSame+natsSame))
}

// perCall is name's CPU per call of u in µs.
func perCall(u usage, name string) float64 { return u.cpu[name] / float64(u.calls) * 1e6 }

// memory connects idle clients to n1 and n2 (half each) and reports n3's
// RSS before and after, and NATS's traffic per second while they sit.
func (b *bench) memory(ctx context.Context, idle int, window time.Duration) error {
	pid := b.pid("n3")
	rss0, err := rss(pid)
	if err != nil {
		return err
	}
	traffic0, err := b.traffic(window)
	if err != nil {
		return err
	}
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex // guards conns, first
	var conns []*client.Client
	var first error
	const workers = 32
	for w := range workers {
		wg.Go(func() {
			for k := w; k < idle; k += workers {
				c, err := dial(ctx, b.urls[k%2], fmt.Sprintf("idle-%d", k))
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				if err == nil {
					conns = append(conns, c)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	if first != nil {
		return first
	}
	fmt.Printf("\n%d idle clients on n1 and n2 connected in %v\n", idle, time.Since(start).Round(time.Millisecond))
	time.Sleep(3 * time.Second) // heartbeats, settled state
	traffic1, err := b.traffic(window)
	if err != nil {
		return err
	}
	rss1, err := rss(pid)
	if err != nil {
		return err
	}
	fmt.Printf("n3 (no clients) RSS: %.1f MB before, %.1f MB with %d clients on the other nodes: %+.2f MB\n",
		rss0/1e6, rss1/1e6, idle, (rss1-rss0)/1e6)
	fmt.Printf("NATS traffic with no calls (heartbeats, liveness), over %v:\n", window)
	fmt.Printf("  with 0 clients:    %s\n", traffic0)
	fmt.Printf("  with %d clients: %s\n", idle, traffic1)
	return nil
}

func (b *bench) pid(name string) int {
	for _, p := range b.procs {
		if p.name == name {
			return p.pid
		}
	}
	return 0
}

// traffic samples NATS's counters over window and returns the rates and
// what each process spent a second.
func (b *bench) traffic(window time.Duration) (string, error) {
	u0, err := b.sample()
	if err != nil {
		return "", err
	}
	time.Sleep(window)
	u1, err := b.sample()
	if err != nil {
		return "", err
	}
	d, sec := u1.minus(u0), window.Seconds()
	out := fmt.Sprintf("%.1f msgs/s, %.0f B/s; CPU", d.msgs/sec, d.byts/sec)
	for _, p := range b.procs {
		out += fmt.Sprintf(" %s %.2f%%", p.name, d.cpu[p.name]/sec*100)
	}
	return out, nil
}

// varz is the part of NATS's /varz read here.
type varz struct {
	InMsgs   float64 `json:"in_msgs"`
	OutMsgs  float64 `json:"out_msgs"`
	InBytes  float64 `json:"in_bytes"`
	OutBytes float64 `json:"out_bytes"`
}

func (b *bench) nats() (varz, error) {
	var v varz
	resp, err := http.Get(b.varz)
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return v, err
	}
	return v, json.Unmarshal(body, &v)
}

// cpuSeconds is the user and system CPU time of process pid.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command name, which may hold spaces, in ().
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime/stime not numbers", pid)
	}
	return (ut + st) / clockTicks, nil
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go runs on.
const clockTicks = 100

// rss is the resident memory of process pid in bytes.
func rss(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}
