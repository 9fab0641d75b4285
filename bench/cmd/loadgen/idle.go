package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsrpc/wsrpc-go/bench/internal/wire"
)

// Idle mode: open connections, one kv.set each, report the server's
// resident memory per connection.

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
	if _, err := nc.Write(wire.Append(nil, wire.OpText, []byte(msg), true)); err != nil {
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
		id, result, method, _ := parseMessage(data)
		if method != nil {
			if _, err := nc.Write(pong(data)); err != nil {
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
			if _, _, method, _ := parseMessage(data); method != nil {
				if _, err := nc.Write(pong(data)); err != nil {
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

// pong is the masked answer to the server's keepalive ping.
func pong(ping []byte) []byte {
	id, _, _, params := parseMessage(ping)
	return appendResult(nil, id, params)
}
