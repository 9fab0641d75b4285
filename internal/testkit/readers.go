package testkit

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/stretchr/testify/require"
)

// Readers are bare WebSocket client connections that read everything
// they receive and count its bytes: the receiving end of the fan-out
// benchmarks.
type Readers struct {
	got   atomic.Int64 // bytes read by all
	conns []net.Conn
	wg    sync.WaitGroup
}

// DialReaders dials n readers to url.
func DialReaders(tb testing.TB, url string, n int) *Readers {
	rd := &Readers{}
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		nc, br, _, err := ws.Dial(ctx, url)
		cancel()
		require.NoError(tb, err)
		rd.conns = append(rd.conns, nc)
		var r io.Reader = nc
		if br != nil {
			r = io.MultiReader(br, nc)
		}
		rd.wg.Add(1)
		go func() {
			defer rd.wg.Done()
			buf := make([]byte, 4096)
			for {
				n, err := r.Read(buf)
				rd.got.Add(int64(n))
				if err != nil {
					return
				}
			}
		}()
	}
	return rd
}

// Wait waits until every reader read per bytes.
func (rd *Readers) Wait(tb testing.TB, per int64) {
	want := per * int64(len(rd.conns))
	WaitFor(tb, func() bool { return rd.got.Load() >= want })
}

// Close closes the readers and waits for their goroutines.
func (rd *Readers) Close() {
	for _, nc := range rd.conns {
		nc.Close()
	}
	rd.wg.Wait()
}

// WaitFor polls cond for up to a minute (benchmarks on a loaded machine).
func WaitFor(tb testing.TB, cond func() bool) {
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(100 * time.Microsecond) {
		if time.Now().After(deadline) {
			tb.Fatal("waited a minute")
		}
	}
}
