// Command loadgen loads a wsrpc server over loopback and reports what it
// measured. Every reply is checked.
//
// Load mode: N connections each keep D calls in flight for a duration and
// report calls/s and p50/p99/max latency.
//
//	loadgen -url ws://127.0.0.1:8000/ws/ -conns 64 -depth 16 -duration 10s -call subtract
//	loadgen ... -call kv        # kv.set then kv.get of the same key, checked
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
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

func main() {
	var o options
	flag.StringVar(&o.url, "url", "ws://127.0.0.1:8000/ws/", "WebSocket URL of the server")
	flag.IntVar(&o.conns, "conns", 64, "connections")
	flag.IntVar(&o.depth, "depth", 16, "calls in flight per connection")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "how long to load (load mode)")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "load before measuring starts")
	flag.StringVar(&o.call, "call", "subtract", "calls to make: subtract or kv")
	flag.BoolVar(&o.idle, "idle", false, "idle mode: open connections, one kv.set each, report server RSS per connection")
	flag.IntVar(&o.pid, "pid", 0, "server process id (idle mode; /proc/PID/status)")
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

// ---------------------------------------------------------------------------
// Load mode

type stats struct {
	calls     atomic.Int64
	errors    atomic.Int64
	mu        sync.Mutex
	latencies []time.Duration
}

func runLoad(o options) error {
	ctx, cancel := context.WithTimeout(context.Background(), o.warmup+o.duration+30*time.Second)
	defer cancel()
	var st stats
	var measuring atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errc := make(chan error, o.conns)
	for i := 0; i < o.conns; i++ {
		nc, br, err := dial(ctx, o, i)
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer nc.Close()
			if err := loadConn(nc, br, o, &st, &measuring, stop); err != nil {
				errc <- err
			}
		}()
	}
	time.Sleep(o.warmup)
	measuring.Store(true)
	start := time.Now()
	time.Sleep(o.duration)
	measuring.Store(false)
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	close(errc)
	for err := range errc {
		return err
	}
	if n := st.errors.Load(); n > 0 {
		return fmt.Errorf("%d replies were wrong", n)
	}
	lat := st.latencies
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(float64(len(lat))*p))]
	}
	calls := st.calls.Load()
	fmt.Printf("url=%s call=%s conns=%d depth=%d duration=%s\n", o.url, o.call, o.conns, o.depth, elapsed.Round(time.Millisecond))
	fmt.Printf("calls=%d calls/s=%.0f p50=%s p99=%s max=%s errors=0\n",
		calls, float64(calls)/elapsed.Seconds(), pct(0.50), pct(0.99), pct(1.0))
	return nil
}

// loadConn keeps depth calls in flight on one connection: it sends a batch,
// then for every batch of replies it reads, checks them and sends as many new
// calls in one write.
func loadConn(nc net.Conn, br *bufio.Reader, o options, st *stats, measuring *atomic.Bool, stop chan struct{}) error {
	rd := wsutil.NewClientSideReader(br)
	type sent struct {
		at   time.Time
		want string
	}
	inflight := make(map[int64]sent, o.depth)
	var nextID int64 = 1
	var out []byte
	var lats []time.Duration
	kvValue := map[int]int64{}
	call := func() {
		nextID += 2
		id := nextID
		var msg, want string
		switch o.call {
		case "kv":
			key := int(id/2) % 8
			if (id/2)%2 == 0 {
				msg = fmt.Sprintf(`{"id":%d,"method":"kv.set","params":{"key":"k%d","value":%d}}`, id, key, id)
				want = "true"
				kvValue[key] = id
			} else {
				msg = fmt.Sprintf(`{"id":%d,"method":"kv.get","params":{"key":"k%d"}}`, id, (key+7)%8)
				want = strconv.FormatInt(kvValue[(key+7)%8], 10)
				if kvValue[(key+7)%8] == 0 {
					want = "null"
				}
			}
		default:
			a, b := id%1000, id%37
			msg = `{"id":` + strconv.FormatInt(id, 10) + `,"method":"subtract","params":{"a":` + strconv.FormatInt(a, 10) + `,"b":` + strconv.FormatInt(b, 10) + `}}`
			want = strconv.FormatInt(a-b, 10)
		}
		inflight[id] = sent{time.Now(), want}
		out = appendMaskedText(out, []byte(msg))
	}
	flush := func() error {
		if len(out) == 0 {
			return nil
		}
		_, err := nc.Write(out)
		out = out[:0]
		return err
	}
	for i := 0; i < o.depth; i++ {
		call()
	}
	if err := flush(); err != nil {
		return err
	}
	stopping := false
	for {
		select {
		case <-stop:
			stopping = true
		default:
		}
		if stopping && len(inflight) == 0 {
			break
		}
		_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			hdr, err := rd.NextFrame()
			if err != nil {
				return fmt.Errorf("read: %w", err)
			}
			payload := make([]byte, hdr.Length)
			if _, err := readFull(rd, payload); err != nil {
				return err
			}
			if hdr.OpCode == ws.OpClose {
				return errors.New("the server closed the connection")
			}
			if hdr.OpCode != ws.OpText {
				continue
			}
			id, result, isCall := parseReply(payload)
			if isCall { // a keepalive ping: echo its params
				out = appendMaskedText(out, pong(payload))
			} else if s, ok := inflight[id]; ok {
				delete(inflight, id)
				if string(result) != s.want {
					st.errors.Add(1)
				}
				if measuring.Load() {
					lats = append(lats, time.Since(s.at))
					st.calls.Add(1)
				}
				if !stopping {
					call()
				}
			}
			if br.Buffered() == 0 {
				break
			}
		}
		if err := flush(); err != nil {
			return err
		}
	}
	st.mu.Lock()
	st.latencies = append(st.latencies, lats...)
	st.mu.Unlock()
	return nil
}

func readFull(r *wsutil.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.Read(p[n:])
		n += m
		if err != nil && n < len(p) {
			return n, err
		}
	}
	return n, nil
}

// appendMaskedText appends a client text frame (masked with a fixed key: the
// server cannot tell, and loadgen needs no unpredictability).
func appendMaskedText(out, payload []byte) []byte {
	n := len(payload)
	if n <= 125 {
		out = append(out, 0x81, 0x80|byte(n))
	} else {
		out = append(out, 0x81, 0x80|126, byte(n>>8), byte(n))
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	out = append(out, key[:]...)
	start := len(out)
	out = append(out, payload...)
	ws.Cipher(out[start:], key, 0)
	return out
}

// parseReply finds the id and the raw result of a reply; isCall is true for
// a call from the server (its keepalive ping).
func parseReply(msg []byte) (id int64, result []byte, isCall bool) {
	i := bytes.Index(msg, []byte(`"id":`))
	if i < 0 {
		return 0, nil, false
	}
	j := i + 5
	k := j
	for k < len(msg) && (msg[k] == '-' || msg[k] >= '0' && msg[k] <= '9') {
		k++
	}
	id, _ = strconv.ParseInt(string(msg[j:k]), 10, 64)
	if bytes.Contains(msg, []byte(`"method":`)) {
		return id, nil, true
	}
	r := bytes.Index(msg, []byte(`"result":`))
	if r < 0 {
		return id, msg, false
	}
	return id, msg[r+9 : bytes.LastIndexByte(msg, '}')], false
}

func pong(ping []byte) []byte {
	id, _, _ := parseReply(ping)
	params := []byte("{}")
	if i := bytes.Index(ping, []byte(`"params":`)); i >= 0 {
		params = ping[i+9 : bytes.LastIndexByte(ping, '}')]
	}
	return []byte(`{"id":` + strconv.FormatInt(id, 10) + `,"result":` + string(params) + `}`)
}

// ---------------------------------------------------------------------------
// Idle mode

func rssKB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

func runIdle(o options) error {
	if o.pid == 0 {
		return errors.New("idle mode needs -pid of the server")
	}
	before, err := rssKB(o.pid)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	conns := make([]net.Conn, 0, o.conns)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	start := time.Now()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	var firstErr error
	for i := 0; i < o.conns; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			nc, br, err := dial(ctx, o, i)
			if err == nil {
				err = kvSetOnce(nc, br, i)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("connection %d: %w", i, err)
				}
				if nc != nil {
					nc.Close()
				}
				return
			}
			conns = append(conns, nc)
			go answerPings(nc, br)
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	setup := time.Since(start)
	// Let the server settle (its GC returns what the set-up churned).
	time.Sleep(3 * time.Second)
	after, err := rssKB(o.pid)
	if err != nil {
		return err
	}
	per := float64(after-before) * 1024 / float64(len(conns))
	fmt.Printf("url=%s idle conns=%d setup=%s\n", o.url, len(conns), setup.Round(time.Millisecond))
	fmt.Printf("server RSS before=%d KiB after=%d KiB per-connection=%.0f bytes\n", before, after, per)
	runtime.KeepAlive(conns)
	if o.hold > 0 {
		time.Sleep(o.hold)
		held, err := rssKB(o.pid)
		if err != nil {
			return err
		}
		fmt.Printf("server RSS after hold=%s: %d KiB per-connection=%.0f bytes\n", o.hold, held, float64(held-before)*1024/float64(len(conns)))
	}
	return nil
}

func kvSetOnce(nc net.Conn, br *bufio.Reader, i int) error {
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	defer nc.SetDeadline(time.Time{})
	msg := fmt.Sprintf(`{"id":3,"method":"kv.set","params":{"key":"k","value":%d}}`, i)
	if _, err := nc.Write(appendMaskedText(nil, []byte(msg))); err != nil {
		return err
	}
	for {
		data, op, err := wsutil.ReadServerData(bufConn{br, nc})
		if err != nil {
			return err
		}
		if op != ws.OpText {
			continue
		}
		id, result, isCall := parseReply(data)
		if isCall {
			if _, err := nc.Write(appendMaskedText(nil, pong(data))); err != nil {
				return err
			}
			continue
		}
		if id == 3 {
			if string(result) != "true" {
				return fmt.Errorf("kv.set answered %s", data)
			}
			return nil
		}
	}
}

// answerPings keeps an idle connection alive: it echoes keepalive pings.
func answerPings(nc net.Conn, br *bufio.Reader) {
	for {
		data, op, err := wsutil.ReadServerData(bufConn{br, nc})
		if err != nil {
			return
		}
		if op == ws.OpText {
			if _, _, isCall := parseReply(data); isCall {
				if _, err := nc.Write(appendMaskedText(nil, pong(data))); err != nil {
					return
				}
			}
		}
	}
}

// bufConn reads through the handshake's buffered reader and writes to the
// connection.
type bufConn struct {
	r *bufio.Reader
	w net.Conn
}

func (b bufConn) Read(p []byte) (int, error)  { return b.r.Read(p) }
func (b bufConn) Write(p []byte) (int, error) { return b.w.Write(p) }
