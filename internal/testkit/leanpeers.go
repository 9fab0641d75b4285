package testkit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// LeanPeers are many bare WebSocket clients held by one process with no
// goroutine and no buffer of their own while idle: what lets a test hold
// a hundred thousand real connections on a small machine. They answer
// calls only when told to (Answer).
type LeanPeers struct {
	conns []net.Conn
	ids   []string
	ahead map[int]io.Reader // guarded by mu: frames read with the handshake
	mu    sync.Mutex
}

// On Linux, above leanSpreadAbove connections, DialLean spreads them over
// leanSources loopback source addresses (127.0.0.2, ...; Linux answers on
// all of 127/8): each has the whole ephemeral port range, so the
// connections to one server are not capped by it (~28k).
const (
	leanSpreadAbove = 1000
	leanSources     = 16
)

// DialLean opens n connections, the k-th to urls[k%len(urls)] with the
// query ?id=id(k), each handshake within 10 s; they are closed when the
// test ends. Raise the file limit first (RaiseFileLimit): each connection
// is a descriptor, two with a server in the same process.
func DialLean(tb testing.TB, urls []string, n int, id func(k int) string) *LeanPeers {
	tb.Helper()
	return dialLean(tb, n, id, func(w, k int) (string, ws.Dialer) {
		var d ws.Dialer
		if runtime.GOOS == "linux" && n > leanSpreadAbove {
			src := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+w%leanSources))}
			d.NetDial = (&net.Dialer{LocalAddr: src}).DialContext
		}
		return urls[k%len(urls)], d
	})
}

// DialLeanMem is DialLean over in-memory connections (MemPipe), whose
// server ends the k-th goes to serve[k%len(serve)] (a server's
// ServeConn): for more connections than the process may open files.
func DialLeanMem(tb testing.TB, serve []func(net.Conn), n int, id func(k int) string) *LeanPeers {
	tb.Helper()
	return dialLean(tb, n, id, func(_, k int) (string, ws.Dialer) {
		return "ws://mem/ws/", ws.Dialer{NetDial: func(context.Context, string, string) (net.Conn, error) {
			c, s := MemPipe()
			serve[k%len(serve)](s)
			return c, nil
		}}
	})
}

// dialLean opens the n connections from 64 goroutines; dialer(w, k)
// gives the URL and dialer of the k-th, opened by goroutine w.
func dialLean(tb testing.TB, n int, id func(k int) string, dialer func(w, k int) (string, ws.Dialer)) *LeanPeers {
	tb.Helper()
	p := &LeanPeers{conns: make([]net.Conn, n), ids: make([]string, n), ahead: map[int]io.Reader{}}
	tb.Cleanup(p.close)
	const workers = 64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for k := w; k < n; k += workers {
				p.ids[k] = id(k)
				u, d := dialer(w, k)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				nc, br, _, err := d.Dial(ctx, u+"?id="+url.QueryEscape(p.ids[k]))
				cancel()
				if err != nil {
					errs <- fmt.Errorf("connection %d of %d: %w", k, n, err)
					return
				}
				p.conns[k] = nc
				if br != nil { // the server spoke at once: keep what was read
					p.mu.Lock()
					p.ahead[k] = io.MultiReader(br, nc)
					p.mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
	return p
}

// Answer has every connection read frames until a call of method, which
// it answers with its id as the result; calls of other methods (a
// keepalive ping) get the same answer. It returns the first failure, or
// nil once every connection answered, each read bounded by timeout.
func (p *LeanPeers) Answer(method string, timeout time.Duration) error {
	const workers = 64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for k := w; k < len(p.conns); k += workers {
				p.mu.Lock()
				r, ok := p.ahead[k]
				p.mu.Unlock()
				if !ok {
					r = p.conns[k]
				}
				if err := answerOne(p.conns[k], r, p.ids[k], method, timeout); err != nil {
					errs <- fmt.Errorf("client %s: %w", p.ids[k], err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// answerOne answers the calls nc receives (read from r) until one of
// method.
func answerOne(nc net.Conn, r io.Reader, id, method string, timeout time.Duration) error {
	_ = nc.SetReadDeadline(time.Now().Add(timeout))
	result := strconv.Quote(id)
	for {
		data, op, err := wsutil.ReadServerData(struct {
			io.Reader
			io.Writer
		}{r, nc})
		if err != nil {
			return err
		}
		var call struct {
			ID     int64  `json:"id"`
			Method string `json:"method"`
		}
		if op != ws.OpText || json.Unmarshal(data, &call) != nil || call.Method == "" {
			continue // an event or a frame a test did not ask about
		}
		reply := `{"id":` + strconv.FormatInt(call.ID, 10) + `,"result":` + result + `}`
		if err := wsutil.WriteClientText(nc, []byte(reply)); err != nil {
			return err
		}
		if call.Method == method {
			return nil
		}
	}
}

func (p *LeanPeers) close() {
	for _, nc := range p.conns {
		if nc != nil {
			_ = nc.Close()
		}
	}
}
