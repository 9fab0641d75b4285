package client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

// fakeUpgrade accepts connections, reads each upgrade request and lets
// answer write the response to it.
func fakeUpgrade(t *testing.T, answer func(nc net.Conn, req *http.Request)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
				req, err := http.ReadRequest(bufio.NewReader(nc))
				if err != nil {
					return
				}
				answer(nc, req)
			}()
		}
	}()
	return "ws://" + ln.Addr().String() + "/"
}

func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

func TestEndlessHandshakeResponseFailsAtTheCap(t *testing.T) {
	// "Endless" is 64 times the cap, then silence: a client without the cap
	// would read all of it and fail only at its dial timeout.
	const endless = 64 * MaxHandshakeResponseSize
	for _, tt := range []struct{ name, start string }{
		{"status line", "HTTP/1.1 101 "},
		{"header", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Endless: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			url := fakeUpgrade(t, func(nc net.Conn, _ *http.Request) {
				_, _ = nc.Write([]byte(tt.start))
				chunk := bytes.Repeat([]byte("a"), 32<<10)
				for sent := 0; sent < endless; sent += len(chunk) {
					if _, err := nc.Write(chunk); err != nil {
						return // the client gave up
					}
				}
				_, _ = nc.Read(make([]byte, 1)) // silent until the client goes
			})
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := Dial(ctx, url, nil, &Options{DialTimeout: 10 * time.Second})
			runtime.ReadMemStats(&after)
			require.ErrorIs(t, err, ErrHandshakeResponseTooLarge)
			require.NoError(t, ctx.Err(), "the dial failed at the cap, before its timeout")
			require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(endless/2),
				"the dial allocated about the cap, not what the server sent")
		})
	}
}

func TestLargeHandshakeResponseAndFramesRightAfterIt(t *testing.T) {
	big := strings.Repeat("b", 16<<10) // far under the cap, over the read buffer
	url := fakeUpgrade(t, func(nc net.Conn, req *http.Request) {
		resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: " + acceptKey(req.Header.Get("Sec-WebSocket-Key")) + "\r\n" +
			"X-Big: " + big + "\r\n\r\n"
		frame, err := ws.CompileFrame(ws.NewTextFrame([]byte(`{"event":"hello"}`)))
		if err != nil {
			return
		}
		// The event in the same write as the response: the handshake's read
		// buffer takes it in, and it must still reach the connection.
		_, _ = nc.Write(append([]byte(resp), frame...))
		_, _ = nc.Read(make([]byte, 1)) // until the client goes
	})
	events := make(chan string, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, url, nil, &Options{Options: wsrpc.Options{
		KeepaliveInterval: -1,
		OnEvent:           func(_ *wsrpc.Conn, ev json.RawMessage) { events <- string(ev) },
	}})
	require.NoError(t, err)
	defer c.Close()
	select {
	case ev := <-events:
		require.JSONEq(t, `{"event":"hello"}`, ev)
	case <-ctx.Done():
		t.Fatal("the event that came with the handshake was lost")
	}
}

func TestHandshakeBoundIsLiftedAfterTheDial(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	nc := limitHandshake(a)
	go func() { _, _ = b.Write(make([]byte, MaxHandshakeResponseSize+10)) }()
	buf := make([]byte, MaxHandshakeResponseSize+10)
	n := 0
	for n < MaxHandshakeResponseSize {
		m, err := nc.Read(buf[n:])
		require.NoError(t, err)
		n += m
	}
	require.Equal(t, MaxHandshakeResponseSize, n, "no read goes past the bound")
	_, err := nc.Read(buf)
	require.ErrorIs(t, err, ErrHandshakeResponseTooLarge)

	require.Equal(t, a, handshakeDone(nc), "the dial's own connection is handed on")
	m, err := nc.Read(buf) // a read buffer filled during the dial keeps reading through it
	require.NoError(t, err)
	require.Equal(t, 10, m)
}

// A refused upgrade keeps the server's content type and the start of its
// body, bounded by MaxRefusalBodySize, whatever the body's length or
// framing.
func TestRefusalBodyIsKept(t *testing.T) {
	long := strings.Repeat("x", 3*MaxRefusalBodySize)
	for _, tt := range []struct {
		name, response, body string
	}{
		{"with length", "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 26\r\n\r\nno WebSocket endpoint at /", "no WebSocket endpoint at /"},
		{"chunked", "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nForbidden\r\n0\r\n\r\n", "Forbidden"},
		{"until close, cut", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + long, long[:MaxRefusalBodySize]},
	} {
		t.Run(tt.name, func(t *testing.T) {
			url := fakeUpgrade(t, func(nc net.Conn, _ *http.Request) { _, _ = nc.Write([]byte(tt.response)) })
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := Dial(ctx, url, nil, nil)
			var he *HandshakeError
			require.ErrorAs(t, err, &he)
			require.Equal(t, "text/plain", he.ContentType)
			require.Equal(t, tt.body, string(he.Body))
		})
	}
}
