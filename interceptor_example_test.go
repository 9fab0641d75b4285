package wsrpc_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/server"
)

// serveWith starts a server with opts on a loopback port and returns its URL.
func serveWith(reg *wsrpc.Registry, opts *server.Options) (url string, stop func()) {
	srv := server.New(reg, opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	hs := &http.Server{Handler: srv}
	go hs.Serve(ln)
	return "ws://" + ln.Addr().String() + "/", func() { srv.Close(); hs.Close() }
}

// Per-method authorization: an interceptor of the server reads the
// upgrade request's token and rejects calls of the "admin." methods for
// everyone else. The caller gets the *Error as its reply.
func ExampleInterceptor_auth() {
	requireAdmin := func(ctx context.Context, inv *wsrpc.Invocation, next wsrpc.Next) error {
		if strings.HasPrefix(inv.Method, "admin.") && inv.Conn.Request().Header.Get("Authorization") != "Bearer admin" {
			return wsrpc.NewError("PermissionError", inv.Method+" needs the admin token")
		}
		return next(ctx, inv)
	}
	reg := wsrpc.NewRegistry()
	reg.MustAdd("admin.reset", func() string { return "reset" })
	reg.MustAdd("hello", func() string { return "hello" })
	url, stop := serveWith(reg, &server.Options{Options: wsrpc.Options{Interceptors: []wsrpc.Interceptor{requireAdmin}}})
	defer stop()

	ctx := context.Background()
	for _, token := range []string{"Bearer guest", "Bearer admin"} {
		c, err := client.Dial(ctx, url, nil, &client.Options{Header: http.Header{"Authorization": {token}}})
		if err != nil {
			panic(err)
		}
		hello, _ := wsrpc.Call[string](ctx, c, "hello", nil)
		reset, err := wsrpc.Call[string](ctx, c, "admin.reset", nil)
		fmt.Printf("%s: %s, %q %v\n", token, hello, reset, err)
		c.Close()
	}
	// Output:
	// Bearer guest: hello, "" PermissionError: admin.reset needs the admin token
	// Bearer admin: hello, "reset" <nil>
}

// bucket is a token bucket: rate tokens a second, at most burst. (With
// golang.org/x/time/rate, rate.NewLimiter(rate, burst).Allow() does this;
// the root module keeps to its few dependencies, so the example has its
// own.)
type bucket struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func (b *bucket) allow(rate, burst float64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if b.last.IsZero() {
		b.tokens = burst
	} else {
		b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// A rate limit per connection: each connection gets its own bucket (here
// in a map by connection id, dropped when it closes), and calls past it
// are rejected with an error reply the caller can retry after.
func ExampleInterceptor_rateLimit() {
	var (
		mu      sync.Mutex
		buckets = map[string]*bucket{}
	)
	limit := func(ctx context.Context, inv *wsrpc.Invocation, next wsrpc.Next) error {
		if inv.Kind != wsrpc.KindCall || inv.Method == "ping" { // keepalive is not charged
			return next(ctx, inv)
		}
		mu.Lock()
		b := buckets[inv.Conn.ID()]
		if b == nil {
			b = &bucket{}
			buckets[inv.Conn.ID()] = b
		}
		mu.Unlock()
		if !b.allow(1, 3) { // 1 call a second, bursts of 3
			return wsrpc.NewError("RateLimitError", "too many calls; retry in a second")
		}
		return next(ctx, inv)
	}
	reg := wsrpc.NewRegistry()
	reg.MustAdd("work", func() string { return "done" })
	url, stop := serveWith(reg, &server.Options{Options: wsrpc.Options{
		Interceptors: []wsrpc.Interceptor{limit},
		Hooks: &wsrpc.Hooks{OnClose: func(c *wsrpc.Conn, err error) {
			mu.Lock()
			delete(buckets, c.ID())
			mu.Unlock()
		}},
	}})
	defer stop()

	ctx := context.Background()
	c, err := client.Dial(ctx, url, nil, nil)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	for range 4 {
		r, err := wsrpc.Call[string](ctx, c, "work", nil)
		fmt.Println(r, err)
	}
	// Output:
	// done <nil>
	// done <nil>
	// done <nil>
	//  RateLimitError: too many calls; retry in a second
}

// Error masking: errors that are not *wsrpc.Error (a database driver's,
// say) may hold internal details. The interceptor logs them and answers a
// generic error instead; deliberate *Error replies pass unchanged.
func ExampleInterceptor_maskErrors() {
	logger := slog.New(slog.DiscardHandler) // your logger
	mask := func(ctx context.Context, inv *wsrpc.Invocation, next wsrpc.Next) error {
		err := next(ctx, inv)
		var e *wsrpc.Error
		if err == nil || errors.As(err, &e) {
			return err
		}
		logger.Error("call failed", "method", inv.Method, "err", err)
		return wsrpc.NewError("InternalError", "something went wrong; it was logged")
	}
	reg := wsrpc.NewRegistry()
	reg.MustAdd("lookup", func() error { return errors.New("pq: password authentication failed for user \"app\"") })
	reg.MustAdd("find", func() error { return wsrpc.NewError("KeyError", "no such key") })
	url, stop := serveWith(reg, &server.Options{Options: wsrpc.Options{Interceptors: []wsrpc.Interceptor{mask}}})
	defer stop()

	ctx := context.Background()
	c, err := client.Dial(ctx, url, nil, nil)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	fmt.Println(c.Call(ctx, "lookup", nil, nil))
	fmt.Println(c.Call(ctx, "find", nil, nil))
	// Output:
	// InternalError: something went wrong; it was logged
	// KeyError: no such key
}

// A route's own interceptors, inside the side's, for one route only.
func ExampleIntercept() {
	audit := func(ctx context.Context, inv *wsrpc.Invocation, next wsrpc.Next) error {
		err := next(ctx, inv)
		fmt.Printf("audit: %s(%s) → %s\n", inv.Method, inv.Params, inv.Result)
		return err
	}
	reg := wsrpc.NewRegistry()
	reg.MustAdd("transfer", wsrpc.Intercept(func(p struct{ Amount int }) int { return p.Amount }, audit))
	url, stop := serveWith(reg, nil)
	defer stop()

	ctx := context.Background()
	c, err := client.Dial(ctx, url, nil, nil)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	n, err := wsrpc.Call[int](ctx, c, "transfer", map[string]int{"Amount": 5})
	fmt.Println(n, err)
	// Output:
	// audit: transfer({"Amount":5}) → 5
	// 5 <nil>
}
