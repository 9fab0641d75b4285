package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/internal/testserver"
	"github.com/wsrpc/wsrpc-go/server"
)

// connWatch records a server's connection and how it ended.
type connWatch struct {
	conn   atomic.Pointer[wsrpc.Conn]
	closed atomic.Pointer[error]
}

func (w *connWatch) hooks() *wsrpc.Hooks {
	return &wsrpc.Hooks{
		OnConnect: func(_ context.Context, c *wsrpc.Conn) error { w.conn.Store(c); return nil },
		OnClose: func(c *wsrpc.Conn, err error) {
			if err == nil {
				err = errors.New("closed without an error")
			}
			w.closed.Store(&err)
		},
	}
}

// waitClosed waits (bounded) for the server to close the connection and
// returns why.
func (w *connWatch) waitClosed(t *testing.T, within time.Duration) error {
	t.Helper()
	require.Eventually(t, func() bool { return w.closed.Load() != nil }, within, time.Millisecond, "the server did not close the connection")
	return *w.closed.Load()
}

// smallReadBuffer makes the client's socket buffer small, so that a client
// that does not read fills the path quickly.
func smallReadBuffer(t *testing.T, c *rawConn) {
	if tc, ok := c.NC.(*net.TCPConn); ok {
		require.NoError(t, tc.SetReadBuffer(4096))
	}
}

// skipToCloseCode reads the frames queued for c, skipping their payloads,
// up to the server's close frame, and returns its code. It is quicker than
// rawConn.closeCode, which parses each message: the socket buffers may
// hold hundreds of thousands of replies to a flood, and the server drops a
// peer that does not echo its close frame after transport.CloseTimeout.
func skipToCloseCode(t *testing.T, c *rawConn) ws.StatusCode {
	t.Helper()
	_ = c.NC.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReaderSize(c.RW, 1<<20)
	for {
		h, err := ws.ReadHeader(br)
		require.NoError(t, err, "expected a close frame: %v", err)
		if h.OpCode != ws.OpClose {
			_, err = br.Discard(int(h.Length))
			require.NoError(t, err)
			continue
		}
		payload := make([]byte, h.Length)
		_, err = io.ReadFull(br, payload)
		require.NoError(t, err)
		code, _ := ws.ParseCloseFrameData(payload)
		return code
	}
}

// A client that floods tiny pings and reads nothing is closed with 1008
// once the replies the server holds for it reach MaxSendQueueBytes, and the
// server never holds more than that for it.
func TestPingFloodWithoutReadingCloses1008(t *testing.T) {
	forEachEngine(t, testPingFloodWithoutReadingCloses1008)
}

func testPingFloodWithoutReadingCloses1008(t *testing.T) {
	const limit = 256 << 10
	var w connWatch
	// The server's socket buffer is kept small, so that its send queue
	// fills soon after the client stops reading, and the client's is left
	// as it is, so that it can read what is before the close frame well
	// within session.CloseTimeout (with the kernel's buffers grown on
	// loopback the path held megabytes; with a tiny receive window it
	// drained in zero-window probes; a slow machine ran out of time in one
	// or the other).
	srv := newTestServer(wsrpc.NewRegistry(), &server.Options{Options: wsrpc.Options{KeepaliveInterval: -1, MaxSendQueueBytes: limit, Hooks: w.hooks()}})
	url := testserver.ListenSendBuffer(t, srv, 16<<10)
	c := dialRaw(t, url)
	flooded := make(chan struct{})
	go func() {
		defer close(flooded)
		for i := 1; i <= 2_000_000 && w.closed.Load() == nil; i++ {
			if _, err := c.NC.Write(maskedText(fmt.Sprintf(`{"id":%d,"method":"ping"}`, i))); err != nil {
				return
			}
		}
	}()
	var peak atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Microsecond):
			}
			if sc := w.conn.Load(); sc != nil {
				if n := sc.Stats().SendQueueBytes; n > peak.Load() {
					peak.Store(n)
				}
			}
		}
	}()
	err := w.waitClosed(t, 30*time.Second)
	close(stop)
	<-sampled
	_ = c.NC.SetWriteDeadline(time.Now()) // the flood stops
	<-flooded
	require.ErrorIs(t, err, wsrpc.ErrSendQueueFull)
	require.Equal(t, ws.StatusPolicyViolation, skipToCloseCode(t, c), "the peer sees 1008")
	// Sampled while the flood ran (the exact accounting is checked in
	// TestSendQueueChargesWhatEachMessageHolds).
	require.LessOrEqual(t, peak.Load(), int64(limit), "the server held more than MaxSendQueueBytes")
}

// 200 calls of 64 KiB params against a handler that does not return: the
// calls are admitted while what they hold (running or waiting) fits in
// MaxQueuedBytes; every other one gets a RuntimeError reply at once, and the
// admitted ones are answered once the handler returns.
func TestBigCallsToSlowHandlerAreRefusedPastMaxQueuedBytes(t *testing.T) {
	forEachEngine(t, testBigCallsToSlowHandlerAreRefusedPastMaxQueuedBytes)
}

func testBigCallsToSlowHandlerAreRefusedPastMaxQueuedBytes(t *testing.T) {
	const limit = 1 << 20
	release := make(chan struct{})
	reg := testRegistry(t)
	reg.MustAdd("hold", func(p struct {
		S string `json:"s"`
	}) int {
		<-release
		return len(p.S)
	})
	var w connWatch
	srv := newTestServer(reg, &server.Options{Options: wsrpc.Options{KeepaliveInterval: -1, MaxQueuedBytes: limit, Hooks: w.hooks()}})
	c := dialRaw(t, startServer(t, srv))
	big := strings.Repeat("x", 64<<10)
	for id := 1; id <= 200; id++ {
		c.Send(fmt.Sprintf(`{"id":%d,"method":"hold","params":{"s":"%s"}}`, id, big))
	}
	maxAdmitted := limit / (64 << 10) // each holds more than its params
	refused := 0
	for refused < 200-maxAdmitted {
		msg := c.Read()
		require.Regexp(t, `^\{"id":\d+,"error":\{"type":"RuntimeError","message":"too many requests.*MaxQueuedBytes=1048576.*"\}\}$`, msg)
		refused++
		require.LessOrEqual(t, w.conn.Load().Stats().QueuedBytes, int64(limit))
	}
	// The rest (at most maxAdmitted) were admitted, unless they too are
	// refused; the first one always is admitted.
	close(release)
	answered := 0
	for refused+answered < 200 {
		msg := c.Read()
		if strings.Contains(msg, `"error"`) {
			require.Contains(t, msg, "MaxQueuedBytes")
			refused++
			continue
		}
		require.Regexp(t, `^\{"id":\d+,"result":65536\}$`, msg)
		answered++
	}
	require.Positive(t, answered)
	require.LessOrEqual(t, answered, maxAdmitted)
	require.Eventually(t, func() bool { return w.conn.Load().Stats().QueuedBytes == 0 }, 5*time.Second, time.Millisecond)
}

// IdleTimeout counts only what the peer sends on its own: calls and
// events. Replies (to this side's keepalive pings, or to no call at all)
// do not keep a connection open.
func TestIdleTimeoutCountsCallsAndEventsOnly(t *testing.T) {
	forEachEngine(t, testIdleTimeoutCountsCallsAndEventsOnly)
}

func testIdleTimeoutCountsCallsAndEventsOnly(t *testing.T) {
	const idle = 300 * time.Millisecond
	t.Run("events keep it open", func(t *testing.T) {
		// A longer timeout here, so that a loaded machine (CI under -race)
		// cannot space two events further apart than it.
		const idle = time.Second
		_, url := newServer(t, &server.Options{Options: wsrpc.Options{IdleTimeout: idle}})
		c := dialRaw(t, url)
		for end := time.Now().Add(2 * idle); time.Now().Before(end); time.Sleep(idle / 10) {
			c.Send(`{"topic":"still here"}`)
		}
		c.Send(`{"id":1,"method":"ping"}`)
		require.Equal(t, `{"id":1,"result":{}}`, c.Read(), "the connection closed although events came")
		require.Equal(t, ws.StatusGoingAway, c.CloseCode())
	})
	t.Run("pongs and replies do not", func(t *testing.T) {
		var w connWatch
		_, url := newServer(t, &server.Options{Options: wsrpc.Options{
			IdleTimeout: idle, KeepaliveInterval: idle / 10, Hooks: w.hooks(),
		}})
		c := dialRaw(t, url)
		start := time.Now()
		pongs := 0
		for {
			msg, err := c.ReadErr(5 * time.Second)
			if err != nil {
				break // the server closed
			}
			// Answer each keepalive ping, and send a reply to nothing.
			var ping struct {
				ID     json.RawMessage `json:"id"`
				Method string          `json:"method"`
				Params json.RawMessage `json:"params"`
			}
			require.NoError(t, json.Unmarshal([]byte(msg), &ping))
			require.Equal(t, "ping", ping.Method)
			c.Send(`{"id":` + string(ping.ID) + `,"result":` + string(ping.Params) + `}`)
			c.Send(`{"id":77777,"result":true}`)
			pongs++
			require.Less(t, time.Since(start), 10*time.Second, "still open long after IdleTimeout")
		}
		require.Greater(t, pongs, 1, "keepalive pings were answered meanwhile")
		err := w.waitClosed(t, 5*time.Second)
		require.ErrorContains(t, err, "IdleTimeout")
	})
}

// WriteTimeout bounds a write to a client that does not read: the server
// gives up and closes the connection after it, not after the default.
func TestWriteTimeoutClosesAStuckWrite(t *testing.T) {
	forEachEngine(t, testWriteTimeoutClosesAStuckWrite)
}

func testWriteTimeoutClosesAStuckWrite(t *testing.T) {
	reg := testRegistry(t)
	reg.MustAdd("huge", func() string { return strings.Repeat("y", 32<<20) })
	var w connWatch
	srv := newTestServer(reg, &server.Options{
		Options: wsrpc.Options{KeepaliveInterval: -1, MaxSendQueueBytes: 256 << 20, Hooks: w.hooks(),
			WriteTimeout: 300 * time.Millisecond},
	})
	c := dialRaw(t, startServer(t, srv))
	smallReadBuffer(t, c)
	c.Send(`{"id":1,"method":"huge"}`)
	// Not reading: the 32 MiB reply cannot fit the socket buffers. The
	// default WriteTimeout (10 s) would outlast this wait.
	err := w.waitClosed(t, 5*time.Second)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
}
