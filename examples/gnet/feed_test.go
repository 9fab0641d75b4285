package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/stretchr/testify/require"

	"github.com/wsrpc/wsrpc-go/internal/testkit"
)

// startInProcess serves the example on a free port for the test's life.
func startInProcess(t *testing.T) string {
	t.Helper()
	addr := testkit.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, addr, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("the gnet server did not stop within 10s")
		}
	})
	waitListening(t, addr)
	return addr
}

const upgradeRequest = "GET /ws/ HTTP/1.1\r\nHost: example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

// maskedText is a client's text frame.
func maskedText(payload string) []byte {
	f := ws.NewTextFrame([]byte(payload))
	f = ws.MaskFrameInPlace(f)
	b, err := ws.CompileFrame(f)
	if err != nil {
		panic(err)
	}
	return b
}

// readFrame reads one server frame within 5s.
func readFrame(t *testing.T, nc net.Conn, br *bufio.Reader) (ws.Header, []byte) {
	t.Helper()
	require.NoError(t, nc.SetReadDeadline(time.Now().Add(5*time.Second)))
	h, err := ws.ReadHeader(br)
	require.NoError(t, err)
	b := make([]byte, h.Length)
	_, err = io.ReadFull(br, b)
	require.NoError(t, err)
	return h, b
}

// readReply reads text frames until a reply (the server's keepalive calls
// come meanwhile).
func readReply(t *testing.T, nc net.Conn, br *bufio.Reader) string {
	t.Helper()
	for {
		h, b := readFrame(t, nc, br)
		require.Equal(t, ws.OpText, h.OpCode)
		if !strings.Contains(string(b), `"method"`) {
			return string(b)
		}
	}
}

// readResponseHead reads the HTTP response head within 5s.
func readResponseHead(t *testing.T, nc net.Conn, br *bufio.Reader) string {
	t.Helper()
	require.NoError(t, nc.SetReadDeadline(time.Now().Add(5*time.Second)))
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		require.NoError(t, err, "response so far: %q", head.String())
		head.WriteString(line)
		if line == "\r\n" {
			return head.String()
		}
	}
}

// The upgrade request and a call, each sent a byte at a time, are answered:
// the session (and Upgrade) take bytes in any split.
func TestByteAtATime(t *testing.T) {
	addr := startInProcess(t)
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer nc.Close()
	nc.(*net.TCPConn).SetNoDelay(true)
	br := bufio.NewReader(nc)
	send := func(b []byte) {
		for i := range b {
			_, err := nc.Write(b[i : i+1])
			require.NoError(t, err)
			time.Sleep(200 * time.Microsecond) // one read each, mostly
		}
	}
	send([]byte(upgradeRequest))
	head := readResponseHead(t, nc, br)
	require.Contains(t, head, "101 Switching Protocols")
	require.Contains(t, head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")

	send(maskedText(`{"id":3,"method":"subtract","params":{"a":1,"b":9}}`))
	require.JSONEq(t, `{"id":3,"result":-8}`, readReply(t, nc, br))

	ping, err := ws.CompileFrame(ws.MaskFrameInPlace(ws.NewPingFrame([]byte("hello"))))
	require.NoError(t, err)
	send(ping)
	for {
		h, payload := readFrame(t, nc, br)
		if h.OpCode == ws.OpPong {
			require.Equal(t, "hello", string(payload))
			break
		}
	}
}

// closeCode reads frames until a close frame and returns its code, then
// checks that the server closes the TCP connection.
func closeCode(t *testing.T, nc net.Conn, br *bufio.Reader) int {
	t.Helper()
	for {
		h, b := readFrame(t, nc, br)
		if h.OpCode != ws.OpClose {
			continue
		}
		require.GreaterOrEqual(t, len(b), 2, "a close frame with a code")
		code := int(binary.BigEndian.Uint16(b))
		require.NoError(t, nc.SetReadDeadline(time.Now().Add(5*time.Second)))
		_, err := io.Copy(io.Discard, br)
		require.NoError(t, err, "the server closes the connection after its close frame")
		return code
	}
}

// Hostile input is answered with a clear status or close code and the
// connection is closed, while the server goes on serving others.
func TestHostileInputClosesCleanly(t *testing.T) {
	addr := startInProcess(t)
	tests := []struct {
		name   string
		before string // the upgrade request, or garbage instead
		after  []byte // frames after a good upgrade
		status string // the HTTP status expected, for a refused upgrade
		code   int    // the close code expected, after an upgrade
	}{
		{name: "not HTTP", before: "\x16\x03\x01\x00\xa5garbage\r\n\r\n", status: "400"},
		{name: "wrong path", before: strings.Replace(upgradeRequest, "/ws/", "/nope", 1), status: "404"},
		{name: "endless head", before: "GET /ws/ HTTP/1.1\r\nX: " + strings.Repeat("a", 9000), status: "431"},
		{name: "not an upgrade", before: "GET /ws/ HTTP/1.1\r\nHost: x\r\n\r\n", status: "400"},
		{name: "unmasked frame", before: upgradeRequest, after: []byte{0x81, 0x02, '{', '}'}, code: 1002},
		{name: "reserved opcode", before: upgradeRequest, after: []byte{0x83, 0x80, 0, 0, 0, 0}, code: 1002},
		{name: "frame past the limit", before: upgradeRequest, after: []byte{0x81, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4}, code: 1009},
		{name: "invalid UTF-8", before: upgradeRequest, after: []byte{0x81, 0x81, 0, 0, 0, 0, 0xff}, code: 1007},
		{name: "bad JSON is dropped", before: upgradeRequest, code: 0,
			after: append(maskedText(`{"id":1,"method":`), maskedText(`{"id":7,"method":"subtract","params":{"a":1,"b":1}}`)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			defer nc.Close()
			br := bufio.NewReader(nc)
			_, err = nc.Write([]byte(tt.before))
			require.NoError(t, err)
			head := readResponseHead(t, nc, br)
			if tt.status != "" {
				require.True(t, strings.HasPrefix(head, "HTTP/1.1 "+tt.status), "response %q", head)
				require.NoError(t, nc.SetReadDeadline(time.Now().Add(5*time.Second)))
				_, err := io.Copy(io.Discard, br)
				require.NoError(t, err, "the server closes a refused connection")
				return
			}
			require.Contains(t, head, "101 Switching Protocols")
			_, err = nc.Write(tt.after)
			require.NoError(t, err)
			if tt.code == 0 { // dropped, as the reference does: the call behind it is answered
				require.JSONEq(t, `{"id":7,"result":0}`, readReply(t, nc, br))
				return
			}
			require.Equal(t, tt.code, closeCode(t, nc, br))
		})
	}
	// Still serving.
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer nc.Close()
	br := bufio.NewReader(nc)
	_, err = nc.Write(append([]byte(upgradeRequest), maskedText(`{"id":3,"method":"subtract","params":{"a":5,"b":1}}`)...))
	require.NoError(t, err)
	require.Contains(t, readResponseHead(t, nc, br), "101")
	require.JSONEq(t, `{"id":3,"result":4}`, readReply(t, nc, br))
}
