package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/internal/wsio"
	"github.com/wsrpc/wsrpc-go/server"
)

// rawUpgrade sends an upgrade request with extra headers and returns the
// HTTP status line's code.
func rawUpgrade(t *testing.T, url string, header http.Header) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(header)}
	nc, _, _, err := d.Dial(ctx, url)
	if err == nil {
		nc.Close()
		return http.StatusSwitchingProtocols
	}
	var se ws.StatusError
	require.ErrorAs(t, err, &se)
	return int(se)
}

func TestOriginCheck(t *testing.T) {
	forEachEngine(t, testOriginCheck)
}

func testOriginCheck(t *testing.T) {
	tests := []struct {
		name    string
		allowed []string
		origin  string
		want    int
	}{
		{"no origin (not a browser)", nil, "", 101},
		{"same host", nil, "http://HOST", 101},
		{"other site", nil, "https://evil.example", 403},
		{"allowed by host", []string{"app.example"}, "https://app.example", 101},
		{"allowed by origin", []string{"https://app.example"}, "https://app.example", 101},
		{"wildcard", []string{"*"}, "https://anything.example", 101},
		{"malformed origin", nil, "::::", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, url := newServer(t, &server.Options{AllowedOrigins: tt.allowed})
			h := http.Header{}
			if tt.origin != "" {
				host := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/ws/")
				h.Set("Origin", strings.ReplaceAll(tt.origin, "HOST", host))
			}
			require.Equal(t, tt.want, rawUpgrade(t, url, h))
		})
	}
}

func TestMaxConnections(t *testing.T) {
	forEachEngine(t, testMaxConnections)
}

func testMaxConnections(t *testing.T) {
	srv, url := newServer(t, &server.Options{MaxConnections: 2})
	dial(t, url, nil, nil)
	dial(t, url, nil, nil)
	require.Eventually(t, func() bool { return len(srv.Clients()) == 2 }, 2*time.Second, 5*time.Millisecond)
	require.Equal(t, http.StatusServiceUnavailable, rawUpgrade(t, url, nil))
}

func TestIdleTimeout(t *testing.T) {
	forEachEngine(t, testIdleTimeout)
}

func testIdleTimeout(t *testing.T) {
	_, url := newServer(t, &server.Options{Options: wsrpc.Options{IdleTimeout: 150 * time.Millisecond}})
	c := dialRaw(t, url)
	// Activity keeps it open past the timeout...
	for i := 0; i < 4; i++ {
		time.Sleep(60 * time.Millisecond)
		c.Send(fmt.Sprintf(`{"id":%d,"method":"ping"}`, i+1))
		require.Equal(t, fmt.Sprintf(`{"id":%d,"result":{}}`, i+1), c.Read())
	}
	// ...silence closes it.
	require.Equal(t, ws.StatusGoingAway, c.CloseCode())
}

func TestHandshakeLimits(t *testing.T) {
	for _, engine := range []string{server.EngineNetpoll, server.EngineGoroutine} {
		t.Run(engine, func(t *testing.T) {
			srv := server.New(testRegistry(t), &server.Options{
				Engine: engine, HandshakeTimeout: 150 * time.Millisecond, MaxHandshakeSize: 1024,
			})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			go func() { _ = srv.Serve(ln) }()
			t.Cleanup(func() { _ = srv.Close() })

			// Upgrades that complete first leave their handshakes (and,
			// on netpoll, their timers) to be reused by the next ones.
			for i := 0; i < 3; i++ {
				c := dialRaw(t, "ws://"+ln.Addr().String()+"/ws/")
				require.Contains(t, c.Read(), `"method":"ping"`, "the server's first keepalive ping")
			}

			// Half a request: dropped after HandshakeTimeout.
			nc, err := net.Dial("tcp", ln.Addr().String())
			require.NoError(t, err)
			defer nc.Close()
			_, err = nc.Write([]byte("GET /ws/ HTTP/1.1\r\nHost: x\r\n"))
			require.NoError(t, err)
			_ = nc.SetReadDeadline(time.Now().Add(3 * time.Second))
			start := time.Now()
			_, err = io.ReadAll(nc)
			require.NoError(t, err, "the server must close the connection")
			require.Less(t, time.Since(start), 2*time.Second)

			// An oversized request: 431.
			nc2, err := net.Dial("tcp", ln.Addr().String())
			require.NoError(t, err)
			defer nc2.Close()
			_, _ = nc2.Write([]byte("GET /ws/ HTTP/1.1\r\nX-Big: " + strings.Repeat("a", 2048) + "\r\n\r\n"))
			_ = nc2.SetReadDeadline(time.Now().Add(3 * time.Second))
			resp, _ := io.ReadAll(nc2)
			require.Contains(t, string(resp), "431")

			// A request that is not a valid upgrade: 400.
			nc3, err := net.Dial("tcp", ln.Addr().String())
			require.NoError(t, err)
			defer nc3.Close()
			_, _ = nc3.Write([]byte("GET /ws/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n"))
			_ = nc3.SetReadDeadline(time.Now().Add(3 * time.Second))
			resp, _ = io.ReadAll(nc3)
			require.True(t, strings.HasPrefix(string(resp), "HTTP/1.1 400"), "%s", resp)
		})
	}
}

// TestNotHTTPRefusedAtOnce: bytes that cannot begin an HTTP request (a TLS
// ClientHello on the plain listener, junk, a lower-case method) are
// answered 400 at once, with a hint, not dropped after HandshakeTimeout
// (5 s by default).
func TestNotHTTPRefusedAtOnce(t *testing.T) {
	for _, engine := range []string{server.EngineNetpoll, server.EngineGoroutine} {
		t.Run(engine, func(t *testing.T) {
			srv := server.New(testRegistry(t), &server.Options{Engine: engine})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			go func() { _ = srv.Serve(ln) }()
			t.Cleanup(func() { _ = srv.Close() })
			for _, hello := range [][]byte{{0x16, 0x03, 0x01, 0x00, 0x05}, {0}, []byte("get / HTTP/1.1")} {
				nc := dialTCP(t, ln.Addr().String())
				_, _ = nc.Write(hello)
				_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
				start := time.Now()
				resp, _ := io.ReadAll(nc)
				_ = nc.Close()
				require.Less(t, time.Since(start), 3*time.Second, "%q", hello)
				require.True(t, strings.HasPrefix(string(resp), "HTTP/1.1 400"), "%s", resp)
				require.Contains(t, string(resp), "ws://")
			}
			tc := tls.Client(dialTCP(t, ln.Addr().String()), &tls.Config{InsecureSkipVerify: true})
			defer tc.Close()
			_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
			start := time.Now()
			require.Error(t, tc.Handshake())
			require.Less(t, time.Since(start), 3*time.Second, "a TLS handshake fails at once")
		})
	}
}

func dialTCP(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	return nc
}

func TestProtocolViolationsCloseTheConnection(t *testing.T) {
	forEachEngine(t, testProtocolViolationsCloseTheConnection)
}

func testProtocolViolationsCloseTheConnection(t *testing.T) {
	tests := []struct {
		name  string
		frame []byte
		code  ws.StatusCode
	}{
		{"unmasked client frame", []byte{0x81, 0x02, '{', '}'}, ws.StatusProtocolError},
		{"reserved opcode", []byte{0x83, 0x80, 0, 0, 0, 0}, ws.StatusProtocolError},
		{"rsv bit", []byte{0xC1, 0x80, 0, 0, 0, 0}, ws.StatusProtocolError},
		{"invalid utf-8", []byte{0x81, 0x82, 0, 0, 0, 0, 0xff, 0xfe}, ws.StatusInvalidFramePayloadData},
		{"long ping", append([]byte{0x89, 0x80 | 126, 0, 200, 0, 0, 0, 0}, make([]byte, 200)...), ws.StatusProtocolError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, url := newServer(t, nil)
			c := dialRaw(t, url)
			_, err := c.NC.Write(tt.frame)
			require.NoError(t, err)
			require.Equal(t, tt.code, c.CloseCode())
		})
	}
}

func TestCloseHandshakeEchoesTheCode(t *testing.T) {
	forEachEngine(t, testCloseHandshakeEchoesTheCode)
}

func testCloseHandshakeEchoesTheCode(t *testing.T) {
	_, url := newServer(t, nil)
	c := dialRaw(t, url)
	body := []byte{0x0f, 0xa1, 'b', 'y', 'e'} // 4001 "bye"
	f := ws.NewFrame(ws.OpClose, true, body)
	f = ws.MaskFrameInPlace(f)
	require.NoError(t, ws.WriteFrame(c.NC, f))
	require.Equal(t, ws.StatusCode(4001), c.CloseCode())
}

func TestSlowConsumerIsDisconnected(t *testing.T) {
	forEachEngine(t, testSlowConsumerIsDisconnected)
}

func testSlowConsumerIsDisconnected(t *testing.T) {
	var dropped atomic.Value
	reg := testRegistry(t)
	reg.MustAdd("big", func() string { return strings.Repeat("x", 64<<10) })
	srv := newTestServer(reg, &server.Options{
		Options: wsrpc.Options{
			KeepaliveInterval: -1,
			MaxSendQueueBytes: 512 << 10,
			Hooks: &wsrpc.Hooks{OnClose: func(c *wsrpc.Conn, err error) {
				if err != nil {
					dropped.Store(err)
				}
			}},
			WriteTimeout: 30 * time.Second,
		},
	})
	url := startServer(t, srv)
	// A client that calls and never reads.
	c := dialRaw(t, url)
	go func() {
		for i := 1; i < 2000; i++ {
			if _, err := c.NC.Write(maskedText(fmt.Sprintf(`{"id":%d,"method":"big"}`, i))); err != nil {
				return
			}
		}
	}()
	// Another client is not affected.
	other := dial(t, url, nil, nil)
	require.Eventually(t, func() bool { return dropped.Load() != nil }, 20*time.Second, 10*time.Millisecond)
	require.ErrorIs(t, dropped.Load().(error), wsrpc.ErrSendQueueFull)
	v, err := wsrpc.Call[json.RawMessage](testCtx(t), other, "ping", map[string]int{"alive": 1})
	require.NoError(t, err)
	require.JSONEq(t, `{"alive":1}`, string(v))
}

func maskedText(s string) []byte {
	f := ws.NewTextFrame([]byte(s))
	f = ws.MaskFrameInPlace(f)
	b, _ := ws.CompileFrame(f)
	return b
}

// selfSigned makes a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "wsrpc test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	for _, engine := range []string{"http", server.EngineNetpoll, server.EngineGoroutine} {
		t.Run(engine, func(t *testing.T) {
			opts := &server.Options{Options: wsrpc.Options{KeepaliveInterval: -1}}
			if engine != "http" {
				opts.Engine = engine
			}
			srv := server.New(testRegistry(t), opts)
			ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
			require.NoError(t, err)
			if engine == "http" {
				hs := &http.Server{Handler: srv}
				go func() { _ = hs.Serve(ln) }()
				t.Cleanup(func() { _ = hs.Close() })
			} else {
				go func() { _ = srv.Serve(ln) }() // netpoll cannot poll TLS: it falls back to goroutines
			}
			t.Cleanup(func() { _ = srv.Close() })
			url := "wss://" + ln.Addr().String() + "/ws/"

			c := dial(t, url, nil, &client.Options{TLSConfig: &tls.Config{RootCAs: pool}})
			diff, err := wsrpc.Call[int](testCtx(t), c, "subtract", map[string]int{"a": 1, "b": 9})
			require.NoError(t, err)
			require.Equal(t, -8, diff)

			// A client that does not trust the certificate cannot connect.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err = client.Dial(ctx, url, nil, nil)
			var uerr x509.UnknownAuthorityError
			require.True(t, errors.As(err, &uerr) || strings.Contains(fmt.Sprint(err), "certificate"), "%v", err)
		})
	}
}

// A reply far larger than the socket buffers, to a client that only starts
// reading later, arrives whole: the server's write waits for the client
// (on the netpoll engine, in the runtime's poller on a duplicate of the
// bare descriptor) instead of failing or losing bytes.
func TestLargeReplyToSlowReaderArrivesWhole(t *testing.T) {
	forEachEngine(t, testLargeReplyToSlowReaderArrivesWhole)
}

func testLargeReplyToSlowReaderArrivesWhole(t *testing.T) {
	reg := testRegistry(t)
	const size = 12 << 20 // more than loopback buffers hold (send 4 MiB, receive up to 6 MiB before the reader reads)
	reg.MustAdd("pattern", func() string {
		b := make([]byte, size)
		for i := range b {
			b[i] = 'a' + byte(i%26)
		}
		return string(b)
	})
	srv := newTestServer(reg, &server.Options{Options: wsrpc.Options{KeepaliveInterval: -1}})
	url := startServer(t, srv)
	c := dialRaw(t, url)
	c.Send(`{"id":1,"method":"pattern"}`)
	time.Sleep(300 * time.Millisecond) // the server fills the socket and waits
	_ = c.NC.SetReadDeadline(time.Now().Add(10 * time.Second))
	rd := wsio.NewReader(c.RW, wsio.Client, wsio.Limits{MaxMessageSize: 16 << 20})
	text, msg, err := rd.ReadMessage()
	require.NoError(t, err)
	require.True(t, text)
	var reply struct {
		ID     int    `json:"id"`
		Result string `json:"result"`
	}
	require.NoError(t, json.Unmarshal(msg, &reply))
	require.Equal(t, 1, reply.ID)
	require.Len(t, reply.Result, size)
	for i := 0; i < size; i += 4099 {
		require.Equal(t, 'a'+byte(i%26), reply.Result[i], "byte %d", i)
	}
}

// Pings are answered with pongs carrying the same payload, on every engine.
func TestPingsAreAnswered(t *testing.T) {
	forEachEngine(t, testPingsAreAnswered)
}

func testPingsAreAnswered(t *testing.T) {
	_, url := newServer(t, nil)
	c := dialRaw(t, url)
	for i := 0; i < 3; i++ {
		payload := []byte(fmt.Sprintf("ping %d", i))
		f := ws.MaskFrameInPlace(ws.NewPingFrame(append([]byte(nil), payload...)))
		require.NoError(t, ws.WriteFrame(c.NC, f))
		_ = c.NC.SetReadDeadline(time.Now().Add(5 * time.Second))
		h, err := ws.ReadHeader(c.RW)
		require.NoError(t, err)
		require.Equal(t, ws.OpPong, h.OpCode)
		body := make([]byte, h.Length)
		_, err = io.ReadFull(c.RW, body)
		require.NoError(t, err)
		require.Equal(t, payload, body)
	}
	// A burst of pings: the last one is answered, whatever the engine
	// answered of the others meanwhile.
	for i := 0; i < 50; i++ {
		f := ws.MaskFrameInPlace(ws.NewPingFrame([]byte(fmt.Sprintf("burst %d", i))))
		require.NoError(t, ws.WriteFrame(c.NC, f))
	}
	_ = c.NC.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		h, err := ws.ReadHeader(c.RW)
		require.NoError(t, err, "the last ping of the burst got no pong")
		body := make([]byte, h.Length)
		_, err = io.ReadFull(c.RW, body)
		require.NoError(t, err)
		require.Equal(t, ws.OpPong, h.OpCode)
		if string(body) == "burst 49" {
			break
		}
	}
	// The connection still serves calls.
	c.Send(`{"id":7,"method":"subtract","params":{"a":3,"b":1}}`)
	require.JSONEq(t, `{"id":7,"result":2}`, c.Read())
}
