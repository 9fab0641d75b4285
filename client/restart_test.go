package client_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
)

// The server is stopped and started again many times while calls run: the
// process stays alive, every call is answered or fails within its bound,
// OnConnect runs again after each restart, calls succeed afterwards, and
// nothing is left running after Close.
func TestServerRestartsUnderLoad(t *testing.T) {
	before := runtime.NumGoroutine()
	srv := newRestartable(t, testRoutes(t))
	const callTimeout = 2 * time.Second
	var connects atomic.Int64
	c, err := client.Dial(testCtx(t), srv.url(), nil, &client.Options{
		Reconnect: true, ReconnectMinWait: 10 * time.Millisecond, ReconnectMaxWait: 100 * time.Millisecond,
		Options: wsrpc.Options{CallTimeout: callTimeout, Hooks: &wsrpc.Hooks{
			OnConnect: func(ctx context.Context, conn *wsrpc.Conn) error {
				connects.Add(1)
				// OnConnect may call the server on the new connection.
				_, err := add(ctx, conn, 1, 1)
				return err
			},
		}},
	})
	require.NoError(t, err)

	var stop atomic.Bool
	var wg sync.WaitGroup
	var ok, failed atomic.Int64
	unexpected := make(chan error, 1)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				start := time.Now()
				n, err := add(context.Background(), c, w, i)
				if took := time.Since(start); took > callTimeout+time.Second {
					select {
					case unexpected <- errors.New("a call took " + took.String()):
					default:
					}
				}
				switch {
				case err == nil && n == w+i:
					ok.Add(1)
				case errors.Is(err, wsrpc.ErrClosed) || errors.Is(err, context.DeadlineExceeded):
					failed.Add(1)
				default:
					select {
					case unexpected <- err:
					default:
					}
				}
			}
		}()
	}
	const restarts = 6
	for range restarts {
		time.Sleep(100 * time.Millisecond) // under load
		srv.stop()
		time.Sleep(50 * time.Millisecond)
		srv.start()
		before := ok.Load()
		require.Eventually(t, func() bool { return ok.Load() > before }, 10*time.Second, 5*time.Millisecond,
			"calls succeed after the restart")
	}
	stop.Store(true)
	within(t, callTimeout+5*time.Second, "the callers", func() struct{} { wg.Wait(); return struct{}{} })
	select {
	case err := <-unexpected:
		t.Fatalf("a call failed unexpectedly or past its bound: %v", err)
	default:
	}
	require.GreaterOrEqual(t, connects.Load(), int64(restarts+1), "OnConnect runs after every reconnect")
	n, err := add(testCtx(t), c, 20, 22)
	require.NoError(t, err)
	require.Equal(t, 42, n)
	t.Logf("%d calls answered, %d failed with the connection, %d connections", ok.Load(), failed.Load(), connects.Load())

	require.NoError(t, c.Close())
	within(t, 5*time.Second, "Done after Close", func() struct{} { <-c.Done(); return struct{}{} })
	srv.stop()
	// Parked workers of both sides exit after wsrpc.IdleWorkerTimeout.
	deadline := time.Now().Add(3 * wsrpc.IdleWorkerTimeout)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines left, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}
