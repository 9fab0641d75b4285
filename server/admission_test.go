package server_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/internal/testserver"
	"github.com/wsrpc/wsrpc-go/server"
)

// statusAt sends a plain upgrade request for path with extra header lines
// to addr and returns the response's status (0: closed without one).
func statusAt(t *testing.T, addr, path string, extra ...string) int {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	for _, h := range extra {
		req += h + "\r\n"
	}
	_, err = nc.Write([]byte(req + "\r\n"))
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		return 0
	}
	return resp.StatusCode
}

// serveConnOn serves srv through ServeConn from an accept loop of the
// test's own, and returns the address.
func serveConnOn(t *testing.T, srv *server.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			srv.ServeConn(nc)
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); _ = srv.Close() })
	return ln.Addr().String()
}

// quiet turns the server's keepalive off, so that nothing but replies
// comes to the tests' bare clients.
func quiet(opts server.Options) *server.Options {
	opts.KeepaliveInterval = -1
	return &opts
}

// hostOf returns the host:port of a ws:// URL.
func hostOf(url string) string {
	return strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/ws/")
}

// deviceID is an Identify that names a connection by its "device" query
// parameter and gives it a value derived from it; "fail" is refused.
func deviceID(r *http.Request) (string, any, error) {
	id := r.URL.Query().Get("device")
	if id == "fail" {
		return "", nil, errUnknownDevice
	}
	return id, "value-of-" + id, nil
}

var errUnknownDevice = errors.New("unknown device")

// The admission rules give the same status whichever way a request comes:
// ServeHTTP, Serve with either engine, ServeConn.
func TestAdmissionRulesAcrossPaths(t *testing.T) {
	testserver.ForEachEngine(t, func(t *testing.T) {
		never := func(*http.Request) bool { return false }
		tests := []struct {
			name  string
			opts  server.Options
			path  string
			extra []string
			want  int
		}{
			{"plain", server.Options{}, "/ws/", nil, http.StatusSwitchingProtocols},
			{"another path", server.Options{Path: "/ws/"}, "/other/", nil, http.StatusNotFound},
			{"cross-origin", server.Options{}, "/ws/", []string{"Origin: http://evil.example"}, http.StatusForbidden},
			{"an allowed origin", server.Options{AllowedOrigins: []string{"app.example"}}, "/ws/", []string{"Origin: https://app.example"}, http.StatusSwitchingProtocols},
			{"Authorize says no", server.Options{Authorize: never}, "/ws/", nil, http.StatusForbidden},
			{"an identified device", server.Options{Identify: deviceID}, "/ws/?device=d1", nil, http.StatusSwitchingProtocols},
			{"Identify fails", server.Options{Identify: deviceID}, "/ws/?device=fail", nil, http.StatusForbidden},
			{"an id with a space", server.Options{Identify: deviceID}, "/ws/?device=a%20b", nil, http.StatusBadRequest},
			{"an id too long", server.Options{Identify: deviceID}, "/ws/?device=" + strings.Repeat("x", server.MaxIDLength+1), nil, http.StatusBadRequest},
			{"an id at the bound", server.Options{Identify: deviceID}, "/ws/?device=" + strings.Repeat("x", server.MaxIDLength), nil, http.StatusSwitchingProtocols},
			{"no id: a generated one", server.Options{Identify: deviceID}, "/ws/", nil, http.StatusSwitchingProtocols},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				opts := tt.opts
				addrs := []string{hostOf(testserver.Listen(t, testserver.New(nil, &opts)))}
				if e := testserver.Current(); e != testserver.HTTP {
					o := tt.opts
					o.Engine = e
					addrs = append(addrs, serveConnOn(t, server.New(nil, &o)))
				}
				for _, addr := range addrs {
					require.Equal(t, tt.want, statusAt(t, addr, tt.path, tt.extra...), "status at %s", addr)
				}
			})
		}
	})
}

// Identify's id becomes the connection's id, found by Client, and its value
// reaches handlers; the request is not what carries it.
func TestIdentityReachesHandlersAndClient(t *testing.T) {
	testserver.ForEachEngine(t, func(t *testing.T) {
		reg := wsrpc.NewRegistry()
		reg.MustAdd("who", func(ctx context.Context) []any {
			return []any{wsrpc.ConnFromContext(ctx).ID(), wsrpc.PeerValue(ctx)}
		})
		srv := testserver.New(reg, quiet(server.Options{Identify: deviceID}))
		url := testserver.Listen(t, srv)
		c := dialWS(t, url+"?device=device-42")
		require.Equal(t, []any{"device-42", "value-of-device-42"}, c.call(1, "who", nil)["result"])
		conn := srv.Client("device-42")
		require.NotNil(t, conn, "srv.Client finds the connection by Identify's id")
		require.Equal(t, "value-of-device-42", conn.Value())

		anon := dialWS(t, url)
		got := anon.call(1, "who", nil)["result"].([]any)
		require.Len(t, got[0], 36, "without an id from Identify the connection keeps a generated UUID")
		require.Equal(t, "value-of-", got[1])
	})
}

// A connection given the id of a connected one replaces it: the old one is
// closed with CloseReplaced, the new one is the one Client finds.
func TestDuplicateIDReplacesTheOlderConnection(t *testing.T) {
	testserver.ForEachEngine(t, func(t *testing.T) {
		reg := wsrpc.NewRegistry()
		reg.MustAdd("ping2", wsrpc.Inline(func() string { return "pong" }))
		srv := testserver.New(reg, quiet(server.Options{Identify: deviceID}))
		url := testserver.Listen(t, srv)
		first := dialWS(t, url+"?device=dup")
		require.Equal(t, "pong", first.call(1, "ping2", nil)["result"])
		old := srv.Client("dup")
		second := dialWS(t, url+"?device=dup")
		require.Equal(t, "pong", second.call(1, "ping2", nil)["result"])

		require.Equal(t, ws.StatusCode(server.CloseReplaced), closeCode(t, first.nc), "the older connection is closed with CloseReplaced")
		require.NotSame(t, old, srv.Client("dup"))
		require.Len(t, srv.Clients(), 1)
		require.Equal(t, "pong", second.call(2, "ping2", nil)["result"], "the newer connection keeps serving")
	})
}

// closeCode reads nc until the server's close frame (10 s at most) and
// returns its code; 0 if the connection ended without one.
func closeCode(t *testing.T, nc net.Conn) ws.StatusCode {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		h, err := ws.ReadHeader(nc)
		if err != nil {
			var ne net.Error
			require.False(t, errors.As(err, &ne) && ne.Timeout(), "no close within 10 s")
			return 0
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(nc, payload); err != nil {
			return 0
		}
		if h.OpCode == ws.OpClose {
			code, _ := ws.ParseCloseFrameData(payload)
			return code
		}
	}
}

// No connection outlives Close: clients dial in a loop while Close runs,
// and every one that got its 101 sees its connection end.
func TestNoConnectionOutlivesClose(t *testing.T) {
	testserver.ForEachEngine(t, func(t *testing.T) {
		for round := 0; round < 5; round++ {
			srv := testserver.New(nil, quiet(server.Options{}))
			url := testserver.Listen(t, srv)
			var wg sync.WaitGroup
			var mu sync.Mutex
			var open []net.Conn
			stop := make(chan struct{})
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
						nc, _, _, err := ws.Dial(ctx, url)
						cancel()
						if err != nil {
							continue
						}
						mu.Lock()
						open = append(open, nc)
						mu.Unlock()
					}
				}()
			}
			require.Eventually(t, func() bool { // let some dials through first
				mu.Lock()
				defer mu.Unlock()
				return len(open) > 0
			}, 5*time.Second, time.Millisecond, "no dial succeeded before Close")
			require.NoError(t, srv.Close())
			time.Sleep(20 * time.Millisecond) // and keep dialing after it
			close(stop)
			wg.Wait()
			mu.Lock()
			conns := open
			mu.Unlock()
			require.NotEmpty(t, conns, "some dials succeeded before Close")
			for _, nc := range conns {
				require.NoError(t, waitEnd(nc), "a connection upgraded around Close stays open")
				_ = nc.Close()
			}
		}
	})
}

// waitEnd reads nc until it ends (close frame or EOF); an error means it
// was still open after 5 s.
func waitEnd(nc net.Conn) error {
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := wsutil.ReadServerData(nc)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return err
		}
		return nil
	}
}

// While Shutdown waits for a running handler, new upgrade requests are
// answered 503 on every engine, not dropped.
func TestShutdownAnswers503(t *testing.T) {
	testserver.ForEachEngine(t, func(t *testing.T) {
		release := make(chan struct{})
		started := make(chan struct{})
		reg := wsrpc.NewRegistry()
		reg.MustAdd("hold", func(ctx context.Context) string {
			close(started)
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
			return "done"
		})
		srv := testserver.New(reg, quiet(server.Options{}))
		url := testserver.Listen(t, srv)
		c := dialWS(t, url)
		require.NoError(t, wsutil.WriteClientText(c.nc, []byte(`{"id":1,"method":"hold"}`)))
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("the handler did not start")
		}
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			done <- srv.Shutdown(ctx)
		}()
		require.Eventually(t, func() bool {
			return statusAt(t, hostOf(url), "/ws/") == http.StatusServiceUnavailable
		}, 5*time.Second, 10*time.Millisecond, "an upgrade during Shutdown is answered 503")
		close(release)
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("Shutdown did not return once the handler finished")
		}
	})
}
