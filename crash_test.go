package wsrpc_test

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/internal/wsio"
	"github.com/wsrpc/wsrpc-go/server"
)

// engines are the ways a server serves connections; "http" is ServeHTTP.
var engines = []string{"http", server.EngineGoroutine, server.EngineNetpoll}

// serveOn starts a server with the test routes on the given engine,
// whatever WSRPC_TEST_ENGINE says, and returns it and its URL.
func serveOn(t *testing.T, engine string, opts *server.Options) (*server.Server, string) {
	t.Helper()
	if opts == nil {
		opts = &server.Options{}
	}
	opts.KeepaliveInterval = -1
	if engine != "http" {
		opts.Engine = engine
	}
	srv := server.New(testRegistry(t), opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	if engine == "http" {
		hs := &http.Server{Handler: srv}
		go func() { _ = hs.Serve(ln) }()
		t.Cleanup(func() { _ = hs.Close() })
	} else {
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = ln.Close() })
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv, "ws://" + ln.Addr().String() + "/ws/"
}

// wrappingLength is a 64-bit frame length that, added to the 5 bytes of the
// fragment before it, wraps an int64.
const wrappingLength = 1<<63 - 1

// crashFrames is a text fragment `{"x":` and a continuation header of
// wrappingLength: it used to panic the parser. Masked for a client's
// frames; compressed sets RSV1 on the fragment (permessage-deflate).
func crashFrames(t testing.TB, masked, compressed bool) []byte {
	payload := []byte(`{"x":`)
	if compressed {
		var b bytes.Buffer
		fw, _ := flate.NewWriter(&b, flate.BestSpeed)
		_, _ = fw.Write(payload)
		require.NoError(t, fw.Flush())
		payload = b.Bytes()[:b.Len()-4]
	}
	f := ws.NewFrame(ws.OpText, false, payload)
	if compressed {
		f.Header.Rsv = ws.Rsv(true, false, false)
	}
	if masked {
		f = ws.MaskFrameInPlace(f)
	}
	first, err := ws.CompileFrame(f)
	require.NoError(t, err)
	cont := []byte{0x80 | byte(ws.OpContinuation), 127}
	cont = binary.BigEndian.AppendUint64(cont, wrappingLength)
	if masked {
		cont[1] |= 0x80
		cont = append(cont, 1, 2, 3, 4)
	}
	return append(first, cont...)
}

// requireAlive checks that c still gets replies.
func requireAlive(t *testing.T, c *client.Client) {
	t.Helper()
	v, err := wsrpc.Call[json.RawMessage](testCtx(t), c, "ping", map[string]int{"alive": 1})
	require.NoError(t, err)
	require.JSONEq(t, `{"alive":1}`, string(v))
}

func TestWrappingFrameLengthClosesOnlyThatConnection(t *testing.T) {
	for _, engine := range engines {
		for _, compressed := range []bool{false, true} {
			name := engine
			if compressed {
				name += "/deflate"
			}
			t.Run(name, func(t *testing.T) {
				srv, url := serveOn(t, engine, &server.Options{Options: wsrpc.Options{EnableCompression: compressed}})
				other := dial(t, url, nil, &client.Options{Options: wsrpc.Options{EnableCompression: compressed}})
				var c *rawConn
				if compressed {
					var accepted int
					c, accepted = dialDeflateCount(t, url)
					require.Equal(t, 1, accepted, "the server accepted permessage-deflate")
				} else {
					c = dialRaw(t, url)
				}
				_, err := c.NC.Write(crashFrames(t, true, compressed))
				require.NoError(t, err)
				require.Equal(t, ws.StatusMessageTooBig, c.CloseCode())

				requireAlive(t, other)
				_ = c.NC.Close()
				require.Eventually(t, func() bool { return len(srv.Clients()) == 1 }, 5*time.Second, 10*time.Millisecond)
			})
		}
	}
}

func dialDeflateCount(t *testing.T, url string) (*rawConn, int) {
	c, ext := dialDeflate(t, url)
	return c, len(ext)
}

// panickyHandler is a slog handler that panics on the records whose
// message contains trigger, and keeps the others.
type panickyHandler struct {
	trigger string
	mu      sync.Mutex
	records []slog.Record
}

func (h *panickyHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *panickyHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *panickyHandler) WithGroup(string) slog.Handler            { return h }

func (h *panickyHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.trigger) {
		panic("test: logger panicked on " + r.Message)
	}
	h.mu.Lock()
	h.records = append(h.records, r.Clone())
	h.mu.Unlock()
	return nil
}

// panicLogged returns the attributes of the read path's panic record, nil
// when there is none (yet).
func (h *panickyHandler) panicLogged() map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.records {
		if r.Level == slog.LevelError && strings.Contains(r.Message, "read path") {
			attrs := map[string]string{}
			r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
			return attrs
		}
	}
	return nil
}

// A non-object message makes the engine log at Debug; the logger panics
// there, on the read path of that connection only.
const dropTrigger = "not a JSON object"

func TestReadPathPanicClosesOnlyThatConnectionWith1011(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			h := &panickyHandler{trigger: dropTrigger}
			srv, url := serveOn(t, engine, &server.Options{Options: wsrpc.Options{Logger: slog.New(h)}})
			other := dial(t, url, nil, nil)
			c := dialRaw(t, url)
			c.Send(`[1]`)
			require.Equal(t, ws.StatusInternalServerError, c.CloseCode())

			attrs := h.panicLogged()
			require.NotNil(t, attrs, "the panic is logged at Error level")
			require.Contains(t, attrs["panic"], "logger panicked")
			require.Contains(t, attrs["stack"], "HandleMessage", "the stack is the panic's")
			require.NotEmpty(t, attrs["conn"])
			requireAlive(t, other)
			_ = c.NC.Close()
			require.Eventually(t, func() bool { return len(srv.Clients()) == 1 }, 5*time.Second, 10*time.Millisecond)
		})
	}
}

// fakeServer accepts one WebSocket connection, sends it frames and returns
// the close code the client answers with.
func fakeServer(t *testing.T, frames []byte) (url string, code <-chan ws.StatusCode) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	ch := make(chan ws.StatusCode, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := ws.Upgrade(nc); err != nil {
			return
		}
		if _, err := nc.Write(frames); err != nil {
			return
		}
		rd := wsio.NewReader(nc, wsio.Server, wsio.Limits{})
		for {
			_, _, err := rd.ReadMessage()
			if ce, ok := err.(*wsio.CloseError); ok && ce.Remote {
				ch <- ce.Code
				return
			}
			if err != nil {
				ch <- 0
				return
			}
		}
	}()
	return "ws://" + ln.Addr().String() + "/", ch
}

func TestClientSurvivesWhatItsServerSends(t *testing.T) {
	textFrame := func(s string) []byte {
		b, err := ws.CompileFrame(ws.NewTextFrame([]byte(s)))
		require.NoError(t, err)
		return b
	}
	tests := []struct {
		name   string
		frames []byte
		opts   client.Options
		want   ws.StatusCode
		cause  error
	}{
		{"wrapping frame length", crashFrames(t, false, false), client.Options{}, ws.StatusMessageTooBig, nil},
		{"panic on the read path", textFrame(`[1]`),
			client.Options{Options: wsrpc.Options{Logger: slog.New(&panickyHandler{trigger: dropTrigger})}},
			ws.StatusInternalServerError, wsrpc.ErrReadPanic},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, good := serveOn(t, "http", nil)
			other := dial(t, good, nil, nil)

			url, code := fakeServer(t, tt.frames)
			c := dial(t, url, nil, &tt.opts)
			select {
			case got := <-code:
				require.Equal(t, tt.want, got)
			case <-time.After(10 * time.Second):
				t.Fatal("the client did not close")
			}
			select {
			case <-c.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("the client is not done")
			}
			if tt.cause != nil {
				require.ErrorIs(t, c.Conn().Err(), tt.cause)
			}
			requireAlive(t, other)
		})
	}
}
