// Package client connects to a wsrpc server (Go, or the Python reference)
// over WebSocket. The client exposes its own routes, which the server may
// call, answers the server's keepalive pings, and can reconnect with backoff.
//
//	reg := wsrpc.NewRegistry()
//	reg.MustAdd("multiply", func(ctx context.Context, p struct{ X, Y int `json:"x"` }) int { ... })
//	c, err := client.Dial(ctx, "ws://127.0.0.1:8000/ws/", &client.Options{Registry: reg})
//	diff, err := wsrpc.Call[int](ctx, c, "subtract", map[string]int{"a": 1, "b": 9})
package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/internal/transport"
	"github.com/wsrpc/wsrpc-go/internal/wsio"
)

// Defaults of Options. Each applies when the field is zero.
const (
	DefaultDialTimeout      = 10 * time.Second
	DefaultMaxMessageSize   = wsio.DefaultMaxMessageSize
	DefaultWriteTimeout     = transport.DefaultWriteTimeout
	DefaultReconnectMinWait = 100 * time.Millisecond
	DefaultReconnectMaxWait = 10 * time.Second
)

// Options configure a Client. The zero value is ready to use.
type Options struct {
	// Options are the engine's limits, hooks and logger. CallTimeout sets the
	// default bound of calls whose context has no deadline.
	wsrpc.Options

	// Registry holds the routes the server may call on this client. Default:
	// only the built-in ping, which answers the server's keepalive.
	Registry *wsrpc.Registry

	// Header is sent with the upgrade request (an Authorization token, say).
	Header http.Header

	// TLSConfig configures wss:// connections (root CAs, client
	// certificates). Default: the system's roots.
	TLSConfig *tls.Config

	// DialTimeout bounds each connection attempt when the context has no
	// deadline. Default DefaultDialTimeout.
	DialTimeout time.Duration

	// MaxMessageSize is the largest message the server may send. Default
	// DefaultMaxMessageSize.
	MaxMessageSize int64

	// WriteTimeout bounds each write. Default DefaultWriteTimeout.
	WriteTimeout time.Duration

	// Reconnect makes the client reconnect after the connection is lost,
	// waiting between attempts with exponential backoff and jitter from
	// ReconnectMinWait to ReconnectMaxWait. Calls made while it is
	// reconnecting wait for the new connection (bounded by their context).
	Reconnect        bool
	ReconnectMinWait time.Duration
	ReconnectMaxWait time.Duration

	// OnConnect runs after every successful connection, the first one and
	// each reconnect, before calls waiting for the connection proceed: the
	// place to log in again or re-subscribe. An error closes that connection
	// (and, with Reconnect, a new attempt follows).
	OnConnect func(ctx context.Context, c *wsrpc.Conn) error

	// EnableCompression offers permessage-deflate (RFC 7692) without
	// context takeover. When the server accepts, messages of at least
	// CompressionThreshold bytes go out compressed and compressed messages
	// are inflated, bounded by MaxMessageSize. A server that accepts but
	// keeps its compression context between messages is refused: the dial
	// fails with ErrCompressionParameters. Default off.
	EnableCompression bool
	// CompressionThreshold is the smallest message compressed. Default
	// DefaultCompressionThreshold.
	CompressionThreshold int
	// CompressionLevel is the compress/flate level. Default
	// flate.BestSpeed.
	CompressionLevel int
}

// DefaultCompressionThreshold is the default Options.CompressionThreshold.
const DefaultCompressionThreshold = wsio.DefaultCompressionThreshold

// ErrCompressionParameters is returned by Dial, with EnableCompression, when
// the server accepted permessage-deflate with parameters this client cannot
// follow (it kept its context between messages, or limited our window).
// Dial again without EnableCompression to talk to such a server.
var ErrCompressionParameters = wsio.ErrDeflateResponse

// HandshakeError reports an upgrade the server refused with an HTTP status,
// such as 403 from an Authorize hook.
type HandshakeError struct {
	StatusCode int
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("wsrpc client: the server refused the WebSocket upgrade with HTTP status %d", e.StatusCode)
}

// Client is a connection to a wsrpc server, reconnecting if asked to. It
// implements wsrpc.Caller. All methods are safe for concurrent use.
type Client struct {
	url  string
	opts Options

	mu        sync.Mutex
	conn      *wsrpc.Conn
	ready     chan struct{} // closed when conn is usable; replaced on loss
	closed    bool
	closeOnce sync.Once
	closeCh   chan struct{}
	done      chan struct{}
}

// Dial connects to url (ws:// or wss://) and returns once the connection is
// up and OnConnect has run. With Reconnect, a lost connection is re-dialled in
// the background until Close.
func Dial(ctx context.Context, url string, opts *Options) (*Client, error) {
	c := &Client{url: url, ready: make(chan struct{}), closeCh: make(chan struct{}), done: make(chan struct{})}
	if opts != nil {
		c.opts = *opts
	}
	o := &c.opts
	if o.Registry == nil {
		o.Registry = wsrpc.NewRegistry()
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if o.ReconnectMinWait <= 0 {
		o.ReconnectMinWait = DefaultReconnectMinWait
	}
	if o.ReconnectMaxWait <= 0 {
		o.ReconnectMaxWait = DefaultReconnectMaxWait
	}
	conn, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	go c.serve(conn)
	return c, nil
}

func (c *Client) connect(ctx context.Context) (*wsrpc.Conn, error) {
	dctx := ctx
	if _, has := ctx.Deadline(); !has {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, c.opts.DialTimeout)
		defer cancel()
	}
	d := ws.Dialer{TLSConfig: c.opts.TLSConfig, WrapConn: limitHandshake}
	if len(c.opts.Header) > 0 {
		d.Header = ws.HandshakeHeaderHTTP(c.opts.Header)
	}
	if c.opts.EnableCompression {
		d.Extensions = []httphead.Option{wsio.ClientOfferOption()}
	}
	nc, br, hs, err := d.Dial(dctx, c.url)
	if err != nil {
		var se ws.StatusError
		if errors.As(err, &se) {
			return nil, &HandshakeError{StatusCode: int(se)}
		}
		return nil, fmt.Errorf("wsrpc client: connect to %s: %w", c.url, err)
	}
	nc = handshakeDone(nc)
	var r io.Reader = nc
	if br != nil {
		r = br
	}
	st := transport.New(nc, r, wsio.Client, wsio.Limits{MaxMessageSize: c.opts.MaxMessageSize}, c.opts.WriteTimeout)
	if c.opts.EnableCompression {
		on, err := wsio.CheckDeflateResponse(hs.Extensions)
		if err != nil {
			_ = nc.Close()
			return nil, fmt.Errorf("wsrpc client: connect to %s: %w", c.url, err)
		}
		if on {
			st.EnableDeflate(wsio.Compression{Threshold: c.opts.CompressionThreshold, Level: c.opts.CompressionLevel})
		}
	}
	pool := wsrpc.NewWorkerPool(0)
	conn := wsrpc.NewConn(st, wsrpc.ConnConfig{
		Role:         wsrpc.RoleClient,
		Registry:     c.opts.Registry,
		Options:      &c.opts.Options,
		Workers:      pool,
		BatchedReads: true, // transport.Stream flushes after each read
	})
	conn.Start()
	// The reader runs before OnConnect so that OnConnect can make calls.
	go func() { _ = st.Serve(conn, pool) }()
	if c.opts.OnConnect != nil {
		if err := c.opts.OnConnect(ctx, conn); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("wsrpc client: OnConnect: %w", err)
		}
	}
	c.install(conn)
	return conn, nil
}

// install makes conn the current connection and releases waiting calls.
func (c *Client) install(conn *wsrpc.Conn) {
	c.mu.Lock()
	c.conn = conn
	close(c.ready)
	c.mu.Unlock()
}

// serve waits for conn to end and reconnects, when asked to.
func (c *Client) serve(conn *wsrpc.Conn) {
	defer close(c.done)
	for {
		<-conn.Done()
		c.mu.Lock()
		if c.closed || !c.opts.Reconnect {
			c.closed = true
			c.mu.Unlock()
			return
		}
		c.ready = make(chan struct{})
		c.mu.Unlock()

		var err error
		for attempt := 0; ; attempt++ {
			wait := backoff(attempt, c.opts.ReconnectMinWait, c.opts.ReconnectMaxWait)
			select {
			case <-c.closeCh:
				return
			case <-time.After(wait):
			}
			conn, err = c.connect(context.Background())
			if err == nil {
				break
			}
			c.opts.Logger.Debug("wsrpc client: reconnect failed", "url", c.url, "attempt", attempt+1, "err", err)
		}
	}
}

// backoff is the wait before reconnect attempt n: exponential from min,
// capped at max, with full jitter in its upper half.
func backoff(n int, min, max time.Duration) time.Duration {
	d := min
	for i := 0; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d/2 + rand.N(d/2+1)
}

// Conn returns the current connection (nil while reconnecting).
func (c *Client) Conn() *wsrpc.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.ready:
		return c.conn
	default:
		return nil
	}
}

// current waits for a usable connection.
func (c *Client) current(ctx context.Context) (*wsrpc.Conn, error) {
	for {
		c.mu.Lock()
		ready, conn, closed := c.ready, c.conn, c.closed
		c.mu.Unlock()
		select {
		case <-ready:
			if conn.Err() == nil || closed || !c.opts.Reconnect {
				if conn.Err() != nil {
					return nil, conn.Err()
				}
				return conn, nil
			}
			// Lost, and the reconnect loop has not replaced ready yet.
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Millisecond):
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("wsrpc client: waiting for a connection: %w", ctx.Err())
		case <-c.closeCh:
			return nil, wsrpc.ErrClosed
		}
	}
}

// Call calls method on the server; see wsrpc.Conn.Call. While the client is
// reconnecting, it waits for the new connection (bounded by ctx).
func (c *Client) Call(ctx context.Context, method string, params, result any) error {
	conn, err := c.current(ctx)
	if err != nil {
		return err
	}
	return conn.Call(ctx, method, params, result)
}

// Emit sends an event to the server; see wsrpc.Conn.Emit.
func (c *Client) Emit(ctx context.Context, event any) error {
	conn, err := c.current(ctx)
	if err != nil {
		return err
	}
	return conn.Emit(ctx, event)
}

// Close closes the connection (close code 1000) and stops reconnecting.
// Pending calls fail with an error matching wsrpc.ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	conn := c.conn
	c.mu.Unlock()
	c.closeOnce.Do(func() { close(c.closeCh) })
	if conn != nil {
		_ = conn.Close()
	}
	return nil
}

// Done is closed when the client has closed for good: after Close, or when
// the connection is lost and Reconnect is off.
func (c *Client) Done() <-chan struct{} { return c.done }
