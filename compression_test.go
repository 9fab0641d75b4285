package wsrpc_test

import (
	"bytes"
	"compress/flate"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/internal/testkit"
	"github.com/wsrpc/wsrpc-go/internal/wsio"
	"github.com/wsrpc/wsrpc-go/server"
)

// deflateOffer is what browsers and Node's ws send.
var deflateOffer = httphead.Option{Name: []byte("permessage-deflate"), Parameters: func() (p httphead.Parameters) {
	p.Set([]byte("client_max_window_bits"), nil)
	return p
}()}

// dialDeflate opens a raw connection that offers permessage-deflate and
// returns it with the extensions the server accepted.
func dialDeflate(t *testing.T, url string) (*rawConn, []httphead.Option) {
	t.Helper()
	c, hs := testkit.DialRawWith(t, url, ws.Dialer{Extensions: []httphead.Option{deflateOffer}})
	return c, hs.Extensions
}

// compressedText is a masked client text frame with msg compressed.
func compressedText(t *testing.T, msg []byte) []byte {
	var b bytes.Buffer
	fw, _ := flate.NewWriter(&b, flate.BestSpeed)
	_, _ = fw.Write(msg)
	require.NoError(t, fw.Flush())
	z := b.Bytes()[:b.Len()-4]
	f := ws.NewTextFrame(z)
	f.Header.Rsv = ws.Rsv(true, false, false)
	f = ws.MaskFrameInPlace(f)
	out, err := ws.CompileFrame(f)
	require.NoError(t, err)
	return out
}

// readFrame reads one server frame from r and returns its payload, inflated
// when RSV1 marks it compressed.
func readFrame(r *rawConn) (payload []byte, compressed bool) {
	r.T.Helper()
	_ = r.NC.SetReadDeadline(time.Now().Add(5 * time.Second))
	h, err := ws.ReadHeader(r.RW)
	require.NoError(r.T, err)
	payload = make([]byte, h.Length)
	_, err = io.ReadFull(r.RW, payload)
	require.NoError(r.T, err)
	compressed = h.Rsv&0x4 != 0
	if compressed {
		fr := flate.NewReader(io.MultiReader(bytes.NewReader(payload), bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff})))
		payload, err = io.ReadAll(fr)
		require.NoError(r.T, err)
	}
	return payload, compressed
}

func TestCompressionNegotiatedBothWays(t *testing.T) {
	forEachEngine(t, testCompressionNegotiatedBothWays)
}

func testCompressionNegotiatedBothWays(t *testing.T) {
	_, url := newServer(t, &server.Options{Options: wsrpc.Options{EnableCompression: true}})
	c, exts := dialDeflate(t, url)
	require.Len(t, exts, 1)
	require.Equal(t, "permessage-deflate", string(exts[0].Name))
	_, ok := exts[0].Parameters.Get("server_no_context_takeover")
	require.True(t, ok, "the server promises not to keep its context")
	_, ok = exts[0].Parameters.Get("client_no_context_takeover")
	require.True(t, ok, "and asks the client not to keep its own")

	// A compressed call is inflated; a large reply comes back compressed.
	big := strings.Repeat("compress me ", 2000)
	call, _ := json.Marshal(map[string]any{"id": 1, "method": "ping", "params": map[string]string{"data": big}})
	_, err := c.NC.Write(compressedText(t, call))
	require.NoError(t, err)
	reply, compressed := readFrame(c)
	require.True(t, compressed)
	var got struct {
		ID     int
		Result struct{ Data string }
	}
	require.NoError(t, json.Unmarshal(reply, &got))
	require.Equal(t, 1, got.ID)
	require.Equal(t, big, got.Result.Data)

	// Short replies are not worth compressing; plain calls still work.
	c.Send(`{"id":2,"method":"ping","params":{"data":"x"}}`)
	reply, compressed = readFrame(c)
	require.False(t, compressed)
	require.JSONEq(t, `{"id":2,"result":{"data":"x"}}`, string(reply))
}

func TestCompressionDeclinedWhenDisabled(t *testing.T) {
	forEachEngine(t, testCompressionDeclinedWhenDisabled)
}

func testCompressionDeclinedWhenDisabled(t *testing.T) {
	_, url := newServer(t, nil)
	c, exts := dialDeflate(t, url)
	require.Empty(t, exts)
	// Without the extension, RSV1 is a protocol error.
	_, err := c.NC.Write(compressedText(t, []byte(`{"id":1,"method":"ping"}`)))
	require.NoError(t, err)
	require.Equal(t, ws.StatusProtocolError, c.CloseCode())
}

func TestDecompressionBombClosesWithoutInflating(t *testing.T) {
	forEachEngine(t, testDecompressionBombClosesWithoutInflating)
}

func testDecompressionBombClosesWithoutInflating(t *testing.T) {
	srv, url := newServer(t, &server.Options{Options: wsrpc.Options{EnableCompression: true, MaxMessageSize: 1 << 20}})
	other := dial(t, url, nil, &client.Options{Options: wsrpc.Options{EnableCompression: true}})

	// About 64 KiB on the wire that inflates to 64 MiB of zeros: one
	// sync-flushed block of 1 MiB of zeros, repeated.
	var b bytes.Buffer
	fw, _ := flate.NewWriter(&b, flate.BestCompression)
	_, _ = fw.Write(make([]byte, 1<<20))
	require.NoError(t, fw.Flush())
	z := bytes.Repeat(b.Bytes(), 64)
	z = z[:len(z)-4]
	f := ws.NewTextFrame(z)
	f.Header.Rsv = ws.Rsv(true, false, false)
	frame, err := ws.CompileFrame(ws.MaskFrameInPlace(f))
	require.NoError(t, err)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c, _ := dialDeflate(t, url)
	_, err = c.NC.Write(frame)
	require.NoError(t, err)
	require.Equal(t, ws.StatusMessageTooBig, c.CloseCode())
	runtime.ReadMemStats(&after)
	// The server (in this process) allocated about the 1 MiB limit, not 64.
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(24<<20))

	// The other connection did not notice.
	v, err := wsrpc.Call[json.RawMessage](testCtx(t), other, "ping", map[string]int{"alive": 1})
	require.NoError(t, err)
	require.JSONEq(t, `{"alive":1}`, string(v))
	_ = c.NC.Close()
	require.Eventually(t, func() bool { return len(srv.Clients()) == 1 }, 5*time.Second, 10*time.Millisecond)
}

// countingListener counts the bytes the server reads.
type countingListener struct {
	net.Listener
	read *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	return countingConn{nc, l.read}, err
}

type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.read.Add(int64(n))
	return n, err
}

func TestGoClientCompression(t *testing.T) {
	big := strings.Repeat("the same words again and again ", 4000) // 124 KB
	for _, tt := range []struct {
		name           string
		server, client bool
		compressed     bool
	}{
		{"both on", true, true, true},
		{"server off", false, true, false},
		{"client off", true, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := server.New(testRegistry(t), &server.Options{
				Options: wsrpc.Options{EnableCompression: tt.server, KeepaliveInterval: -1},
			})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			var read atomic.Int64
			go func() { _ = srv.Serve(countingListener{ln, &read}) }()
			t.Cleanup(func() { _ = srv.Close() })

			c := dial(t, "ws://"+ln.Addr().String()+"/", nil, &client.Options{Options: wsrpc.Options{EnableCompression: tt.client}})
			v, err := wsrpc.Call[struct{ Data string }](testCtx(t), c, "ping", map[string]string{"data": big})
			require.NoError(t, err)
			require.Equal(t, big, v.Data)
			if tt.compressed {
				require.Less(t, read.Load(), int64(len(big)/10), "the call went out compressed")
			} else {
				require.Greater(t, read.Load(), int64(len(big)))
			}
		})
	}
}

func TestGoClientRefusesServerContextTakeover(t *testing.T) {
	// A server that accepts permessage-deflate but keeps its context.
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := ws.HTTPUpgrader{Header: http.Header{"Sec-WebSocket-Extensions": {"permessage-deflate"}}}
		if nc, _, _, err := u.Upgrade(r, w); err == nil {
			_ = nc.Close()
		}
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })

	_, err = client.Dial(testCtx(t), "ws://"+ln.Addr().String()+"/", nil, &client.Options{Options: wsrpc.Options{EnableCompression: true}})
	require.ErrorIs(t, err, client.ErrCompressionParameters)
	require.ErrorIs(t, err, wsio.ErrDeflateResponse)
}
