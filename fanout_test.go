package wsrpc_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/server"
)

func TestEncodeEvent(t *testing.T) {
	tests := []struct {
		name  string
		event any
		want  string // the message, when no error
		isNot bool   // the error matches ErrNotEvent
		fails bool   // another error
	}{
		{"map", map[string]int{"a": 1}, `{"a":1}`, false, false},
		{"struct", struct {
			Topic string `json:"topic"`
		}{"news"}, `{"topic":"news"}`, false, false},
		{"raw", json.RawMessage(`{"x":[1,2]}`), `{"x":[1,2]}`, false, false},
		{"id", map[string]int{"id": 1}, "", true, false},
		{"array", []int{1}, "", true, false},
		{"string", "hi", "", true, false},
		{"nil", nil, "", true, false},
		{"invalid raw", json.RawMessage(`{`), "", false, true},
		{"unencodable", map[string]any{"c": make(chan int)}, "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := wsrpc.EncodeEvent(tt.event)
			switch {
			case tt.isNot:
				require.ErrorIs(t, err, wsrpc.ErrNotEvent)
			case tt.fails:
				require.Error(t, err)
				require.NotErrorIs(t, err, wsrpc.ErrNotEvent)
			default:
				require.NoError(t, err)
				require.Equal(t, tt.want, string(msg))
			}
		})
	}
}

// Emit, EmitEncoded and Broadcast reach every client exactly once, in the
// order they were sent, and a broadcast call is the same frame on every
// connection.
func TestFanOutReachesEveryClientOnce(t *testing.T) {
	forEachEngine(t, testFanOutReachesEveryClientOnce)
}

func testFanOutReachesEveryClientOnce(t *testing.T) {
	const n = 8
	srv, url := newServer(t, nil)
	clients := make([]*rawConn, n)
	for i := range clients {
		clients[i] = dialRaw(t, url)
		require.Eventually(t, func() bool { return len(srv.Clients()) == i+1 }, 5*time.Second, time.Millisecond)
	}
	require.NoError(t, srv.Emit(testCtx(t), map[string]int{"seq": 1}))
	msg, err := wsrpc.EncodeEvent(map[string]int{"seq": 2})
	require.NoError(t, err)
	require.Equal(t, n, srv.EmitEncoded(msg))
	done := make(chan []server.BroadcastResult, 1)
	go func() { done <- srv.Broadcast(testCtx(t), "hello", map[string]string{"to": "all"}) }()

	calls := make([]string, n)
	for i, c := range clients {
		require.Equal(t, `{"seq":1}`, c.Read(), "client %d", i)
		require.Equal(t, `{"seq":2}`, c.Read(), "client %d", i)
		calls[i] = c.Read()
		var call struct {
			ID     int64           `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
		}
		require.NoError(t, json.Unmarshal([]byte(calls[i]), &call), calls[i])
		require.Equal(t, "hello", call.Method)
		require.JSONEq(t, `{"to":"all"}`, string(call.Params))
		require.NotZero(t, call.ID)
		c.Send(fmt.Sprintf(`{"id":%d,"result":%d}`, call.ID, i))
		require.Equal(t, calls[0], calls[i], "the broadcast's frame differs between clients")
	}
	results := recv(t, done, "Broadcast to return")
	require.Len(t, results, n)
	for i, r := range results {
		require.NoError(t, r.Err, "client %d", i)
		require.JSONEq(t, fmt.Sprint(i), string(r.Result), "client %d", i)
	}
	// Nothing was sent twice: the next message of each is the last event.
	require.NoError(t, srv.Emit(testCtx(t), map[string]string{"end": "yes"}))
	for i, c := range clients {
		require.Equal(t, `{"end":"yes"}`, c.Read(), "client %d", i)
	}
}

// Clients that stop reading are closed with 1008 by their own send-queue
// limit, and the clients that read get every event meanwhile: no Emit, and
// no write of another connection, waits on a stalled one.
func TestFanOutDropsAClientThatStopsReading(t *testing.T) {
	forEachEngine(t, testFanOutDropsAClientThatStopsReading)
}

func testFanOutDropsAClientThatStopsReading(t *testing.T) {
	const (
		readers = 3
		events  = 600 // 9.6 MB: more than the socket buffers hold
		limit   = 1 << 20
	)
	// More stalled clients than the workers a fan-out starts with, dialled
	// first so that they come first in connection order.
	stalled := runtime.GOMAXPROCS(0) + 1
	var mu sync.Mutex
	reasons := map[*wsrpc.Conn]error{}
	closed := map[*wsrpc.Conn]chan struct{}{}
	// WriteTimeout far beyond the test: only the queue limit can end the
	// stalled clients.
	srv, url := newServer(t, &server.Options{Options: wsrpc.Options{WriteTimeout: time.Hour,
		MaxSendQueueBytes: limit,
		Hooks: &wsrpc.Hooks{OnClose: func(c *wsrpc.Conn, err error) {
			mu.Lock()
			defer mu.Unlock()
			reasons[c] = err
			if ch := closed[c]; ch != nil {
				close(ch)
			}
		}},
	}})
	stuck := make([]*rawConn, stalled)
	for i := range stuck {
		stuck[i] = dialRaw(t, url)
		// A small buffer, but not so small that reading it later is slow.
		require.NoError(t, stuck[i].NC.(*net.TCPConn).SetReadBuffer(64<<10))
		require.Eventually(t, func() bool { return len(srv.Clients()) == i+1 }, 5*time.Second, time.Millisecond)
	}
	stuckConns := srv.Clients()
	clients := make([]*rawConn, readers)
	for i := range clients {
		clients[i] = dialRaw(t, url)
	}
	require.Eventually(t, func() bool { return len(srv.Clients()) == readers+stalled }, 5*time.Second, time.Millisecond)

	// A stalled client reads once the server dropped it: it finds the
	// close frame behind what the socket buffers held.
	codes := make(chan ws.StatusCode, stalled)
	mu.Lock()
	for i, sc := range stuckConns {
		ch := make(chan struct{})
		closed[sc] = ch
		go func() {
			<-ch
			codes <- drainToCloseCode(stuck[i])
		}()
	}
	mu.Unlock()

	// The readers read while the events go out; the sender keeps at most
	// window events ahead of the slowest reader, so that only the stalled
	// client's queue grows.
	const window = 8
	var wg sync.WaitGroup
	got := make([]atomic.Int64, readers)
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range events {
				msg, err := c.ReadErr(10 * time.Second)
				if err != nil {
					return
				}
				var ev struct{ Seq int64 }
				if json.Unmarshal([]byte(msg), &ev) == nil && ev.Seq == got[i].Load() {
					got[i].Add(1)
				}
			}
		}()
	}
	slowest := func() int64 {
		m := got[0].Load()
		for i := range got {
			m = min(m, got[i].Load())
		}
		return m
	}
	pad := strings.Repeat("x", 16<<10)
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := range events {
			for deadline := time.Now().Add(10 * time.Second); int64(i)-slowest() > window && time.Now().Before(deadline); {
				time.Sleep(100 * time.Microsecond)
			}
			_ = srv.Emit(context.Background(), map[string]any{"seq": i, "pad": pad})
		}
	}()
	waitClosed(t, sent, "the events to be queued (Emit waited on the stalled client)")
	waitGroup(t, &wg, "the reading clients to get every event")
	for i := range got {
		require.Equal(t, int64(events), got[i].Load(), "events reading client %d got in order", i)
	}

	for range stalled {
		require.Equal(t, ws.StatusPolicyViolation, recv(t, codes, "a stalled client's close frame"), "a stalled client sees 1008")
	}
	mu.Lock()
	require.Len(t, reasons, stalled, "a reading client was closed")
	for _, sc := range stuckConns {
		require.ErrorIs(t, reasons[sc], wsrpc.ErrSendQueueFull)
	}
	mu.Unlock()
	require.Eventually(t, func() bool { return len(srv.Clients()) == readers }, 5*time.Second, time.Millisecond,
		"the stalled client is still registered")
}

// Messages queued on a slow connection keep their bytes while later
// broadcasts are encoded and queued: each event arrives as it was sent.
func TestFanOutQueuedBytesAreNotOverwritten(t *testing.T) {
	forEachEngine(t, testFanOutQueuedBytesAreNotOverwritten)
}

func testFanOutQueuedBytesAreNotOverwritten(t *testing.T) {
	const events = 400 // 6.4 MB: more than the socket buffers hold
	srv, url := newServer(t, &server.Options{Options: wsrpc.Options{MaxSendQueueBytes: 64 << 20}})
	slow := dialRaw(t, url)
	require.NoError(t, slow.NC.(*net.TCPConn).SetReadBuffer(64<<10))
	require.Eventually(t, func() bool { return len(srv.Clients()) == 1 }, 5*time.Second, time.Millisecond)
	slowConn := srv.Clients()[0]
	fast := dialRaw(t, url)
	require.Eventually(t, func() bool { return len(srv.Clients()) == 2 }, 5*time.Second, time.Millisecond)
	event := func(i int) string {
		return fmt.Sprintf(`{"seq":%d,"pad":"%s"}`, i, strings.Repeat(string(rune('a'+i%26)), 16<<10))
	}
	for i := range events {
		if i%2 == 0 {
			require.NoError(t, srv.Emit(testCtx(t), json.RawMessage(event(i))))
		} else {
			msg, err := wsrpc.EncodeEvent(json.RawMessage(event(i)))
			require.NoError(t, err)
			require.Equal(t, 2, srv.EmitEncoded(msg))
		}
	}
	// The slow client starts reading only now, with events still queued
	// on the server.
	require.Positive(t, slowConn.Stats().SendQueueBytes, "nothing waited in the slow client's queue")
	for i := range events {
		require.Equal(t, event(i), fast.Read(), "fast client, event %d", i)
	}
	for i := range events {
		require.Equal(t, event(i), slow.Read(), "slow client, event %d", i)
	}
}

// Conn.EmitEncoded queues the given bytes; on a closed connection it fails
// with ErrClosed.
func TestConnEmitEncoded(t *testing.T) {
	forEachEngine(t, testConnEmitEncoded)
}

func testConnEmitEncoded(t *testing.T) {
	srv, url := newServer(t, nil)
	c := dialRaw(t, url)
	require.Eventually(t, func() bool { return len(srv.Clients()) == 1 }, 5*time.Second, time.Millisecond)
	sc := srv.Clients()[0]
	msg, err := wsrpc.EncodeEvent(map[string]string{"hi": "there"})
	require.NoError(t, err)
	require.NoError(t, sc.EmitEncoded(msg))
	require.Equal(t, `{"hi":"there"}`, c.Read())
	require.NoError(t, sc.Close())
	waitClosed(t, sc.Done(), "the connection to close")
	require.ErrorIs(t, sc.EmitEncoded(msg), wsrpc.ErrClosed)
	require.Equal(t, 0, srv.EmitEncoded(msg))
}

// drainToCloseCode reads c up to the server's close frame, skipping
// payloads, and returns its code (0 when the stream ended without one).
func drainToCloseCode(c *rawConn) ws.StatusCode {
	_ = c.NC.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReaderSize(c.RW, 1<<20)
	for {
		h, err := ws.ReadHeader(br)
		if err != nil {
			return 0
		}
		if h.OpCode != ws.OpClose {
			if _, err := br.Discard(int(h.Length)); err != nil {
				return 0
			}
			continue
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(br, payload); err != nil {
			return 0
		}
		code, _ := ws.ParseCloseFrameData(payload)
		return code
	}
}
