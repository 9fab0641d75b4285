// Package client connects to a wsrpc server (Go, or the Python reference)
// over WebSocket. The client exposes its own routes, which the server may
// call, answers the server's keepalive pings, pings the server to notice
// when it goes silent, and can reconnect with backoff.
//
//	type xy struct {
//		X int `json:"x"`
//		Y int `json:"y"`
//	}
//	reg := wsrpc.NewRegistry()
//	reg.MustAdd("multiply", func(ctx context.Context, p xy) int { return p.X * p.Y })
//	c, err := client.Dial(ctx, "ws://127.0.0.1:8000/ws/", reg, &client.Options{Reconnect: true})
//	diff, err := wsrpc.Call[int](ctx, c, "subtract", map[string]int{"a": 1, "b": 9})
//
// The examples of Dial and Options run against a real server.
//
// Every wait has a bound: DialTimeout bounds each connection attempt,
// CallTimeout (or the call's context) bounds a call including any wait for a
// reconnect, WriteTimeout bounds each write, and keepalive (on by default)
// closes a connection whose server stopped answering, after which Reconnect
// dials again.
package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/internal/safely"
	"github.com/wsrpc/wsrpc-go/internal/transport"
	"github.com/wsrpc/wsrpc-go/internal/wsio"
	"github.com/wsrpc/wsrpc-go/session"
)

// Defaults of Options. Each applies when the field is zero.
const (
	DefaultDialTimeout      = 10 * time.Second
	DefaultReconnectMinWait = 100 * time.Millisecond
	DefaultReconnectMaxWait = 10 * time.Second
)

// Options configure a Client. The zero value is ready to use.
type Options struct {
	// Options are what both sides share: the message size limit, the write
	// timeout, compression, keepalive, the engine's limits, hooks and
	// logger, each with the default wsrpc.Options documents. CallTimeout
	// sets the default bound of calls whose context has no deadline; on the
	// client it covers the wait for a reconnect too.
	//
	// Keepalive is on by default, as on the server, so that a server that
	// stops answering is noticed (and, with Reconnect, replaced); a
	// negative KeepaliveInterval turns it off. Every server has the
	// built-in ping.
	//
	// Hooks.OnConnect runs after every successful connection, the first
	// one and each reconnect, before calls waiting for the connection
	// proceed: the place to log in again or re-subscribe. It may call the
	// server. An error closes that connection (and, with Reconnect, a new
	// attempt follows).
	//
	// OnEvent runs on a goroutine of the client's, one event at a time in
	// the order they arrived, never on the reader: a slow handler delays no
	// reply. Events waiting for it are bounded by MaxQueuedBytes; past it the
	// connection is closed (1008) with ErrEventQueueFull.
	wsrpc.Options

	// Header is sent with the upgrade request (an Authorization token, say).
	Header http.Header

	// TLSConfig configures wss:// connections (root CAs, client
	// certificates). Default: the system's roots.
	TLSConfig *tls.Config

	// DialTimeout bounds each connection attempt (the context, when it ends
	// sooner, bounds it too). Default DefaultDialTimeout.
	DialTimeout time.Duration

	// Reconnect makes the client reconnect after the connection is lost,
	// waiting between attempts with exponential backoff and jitter from
	// ReconnectMinWait to ReconnectMaxWait. Calls made while it is
	// reconnecting wait for the new connection (bounded by their context or
	// CallTimeout); calls in flight when the connection was lost fail with
	// an error matching wsrpc.ErrClosed. The backoff keeps growing across
	// connections that the server closes soon after the upgrade, and starts
	// again from ReconnectMinWait once a connection stayed up for
	// ReconnectMaxWait.
	Reconnect        bool
	ReconnectMinWait time.Duration
	ReconnectMaxWait time.Duration

	// RetryFirstDial makes Dial retry, with the same backoff, until the
	// first connection is up or ctx ends, instead of failing at once when
	// the server is not up yet. Without a deadline on ctx, Dial keeps trying.
	RetryFirstDial bool

	// OnStateChange is told of every change of the client's state, in
	// order, on the goroutine that made it (Dial's, then the client's own):
	// keep it quick.
	OnStateChange func(StateChange)

	// OnMessage, when set, sees every text message of every connection as
	// it is sent (sent true) or received (false), for tracing and debugging
	// tools; msg is only valid during the call. It runs on the goroutines
	// that write and read, possibly both at once, so it must be quick and
	// safe for concurrent use. Default nil: nothing is observed, at no cost.
	OnMessage func(sent bool, msg []byte)
}

// ErrCompressionParameters is returned by Dial, with EnableCompression, when
// the server accepted permessage-deflate with parameters this client cannot
// follow (it kept its context between messages, or limited our window).
// Dial again without EnableCompression to talk to such a server.
var ErrCompressionParameters = wsio.ErrDeflateResponse

// HandshakeError reports an upgrade the server refused with an HTTP status,
// such as 403 from an Authorize hook.
type HandshakeError struct {
	StatusCode int
	// ContentType and Body are those of the server's answer, the body cut
	// at MaxRefusalBodySize: often the server's reason, such as "no
	// WebSocket endpoint at /wrong/". They are the server's bytes, not
	// checked: escape them before printing them to a terminal.
	ContentType string
	Body        []byte
}

// MaxRefusalBodySize bounds the body of a refused upgrade that Dial keeps in
// HandshakeError.Body.
const MaxRefusalBodySize = 1 << 10

// Error names the HTTP status the server answered with.
func (e *HandshakeError) Error() string {
	return fmt.Sprintf("wsrpc client: the server refused the WebSocket upgrade with HTTP status %d", e.StatusCode)
}

// Client is a connection to a wsrpc server, reconnecting if asked to. It
// implements wsrpc.Caller. All methods are safe for concurrent use.
type Client struct {
	url    string
	reg    *wsrpc.Registry // the routes the server may call
	opts   Options
	engine *wsrpc.Options // opts.Options resolved, OnEvent routed to events, OnConnect taken out
	// session is the WebSocket settings every connection shares (from
	// engine); compression is decided per connection, by the handshake.
	session session.Config
	// onConnect is Hooks.OnConnect: the client runs it itself, once the
	// connection is read, so that it may call the server.
	onConnect func(ctx context.Context, c *wsrpc.Conn) error
	pool      *wsrpc.WorkerPool  // shared by the client's connections
	events    *eventQueue        // nil without OnEvent
	ctx       context.Context    // ends at Close: bounds dials and OnConnect
	cancel    context.CancelFunc // ends ctx
	done      chan struct{}

	mu      sync.Mutex // protects the following
	conn    *wsrpc.Conn
	ready   chan struct{} // closed while conn is usable; replaced when it is lost
	state   State
	lastErr error // why the last connection attempt failed
	closed  bool
}

// Dial connects to url (ws:// or wss://) and returns once the connection is
// up and Hooks.OnConnect has run. reg holds the routes the server may call
// on this client, as server.New's registry does on the server; nil means
// only the built-in ping, which answers the server's keepalive. opts may be
// nil. With Reconnect, a lost connection is re-dialled in the background
// until Close; with RetryFirstDial, Dial itself retries until ctx ends.
func Dial(ctx context.Context, url string, reg *wsrpc.Registry, opts *Options) (*Client, error) {
	c := newClient(url, reg, opts)
	conn, err := c.connect(ctx)
	if err != nil && c.opts.RetryFirstDial {
		attempt := 0
		conn, err = c.redial(ctx, &attempt, err)
	}
	if err != nil {
		c.cancel()
		return nil, err
	}
	c.setState(StateChange{State: StateConnected})
	c.install(conn)
	go c.serve(conn)
	return c, nil
}

// newClient resolves the options: the client's own defaults here, the
// shared ones by wsrpc.Options.Resolved.
func newClient(url string, reg *wsrpc.Registry, opts *Options) *Client {
	c := &Client{url: url, reg: reg, ready: make(chan struct{}), done: make(chan struct{}), state: StateConnecting}
	if opts != nil {
		c.opts = *opts
	}
	if c.reg == nil {
		c.reg = wsrpc.NewRegistry()
	}
	o := &c.opts
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.ReconnectMinWait <= 0 {
		o.ReconnectMinWait = DefaultReconnectMinWait
	}
	if o.ReconnectMaxWait <= 0 {
		o.ReconnectMaxWait = DefaultReconnectMaxWait
	}
	o.ReconnectMaxWait = max(o.ReconnectMaxWait, o.ReconnectMinWait)
	o.Options = *o.Options.Resolved()
	eng := o.Options
	if o.OnEvent != nil {
		c.events = &eventQueue{fn: o.OnEvent, log: o.Logger, limit: o.MaxQueuedBytes}
		eng.OnEvent = c.events.push
	}
	if h := o.Hooks; h != nil && h.OnConnect != nil {
		c.onConnect = h.OnConnect
		hooks := *h
		hooks.OnConnect = nil // run by connect, not by Conn.Start
		eng.Hooks = &hooks
	}
	c.engine = &eng
	c.session = session.Config{
		Role:                 wsrpc.RoleClient,
		MaxMessageSize:       eng.MaxMessageSize,
		CompressionThreshold: eng.CompressionThreshold,
		CompressionLevel:     eng.CompressionLevel,
	}
	c.pool = wsrpc.NewWorkerPool(0)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

// connect makes one connection attempt, bounded by ctx and DialTimeout, and
// runs Hooks.OnConnect on the new connection.
func (c *Client) connect(ctx context.Context) (*wsrpc.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, c.opts.DialTimeout)
	defer cancel()
	d := ws.Dialer{TLSConfig: c.opts.TLSConfig, WrapConn: limitHandshake}
	if len(c.opts.Header) > 0 {
		d.Header = ws.HandshakeHeaderHTTP(c.opts.Header)
	}
	if c.engine.EnableCompression {
		d.Extensions = []httphead.Option{wsio.ClientOfferOption()}
	}
	var refusal HandshakeError
	d.OnStatusError = refusal.read
	nc, br, hs, err := d.Dial(dctx, c.url)
	if err != nil {
		var se ws.StatusError
		if errors.As(err, &se) {
			refusal.StatusCode = int(se)
			return nil, &refusal
		}
		return nil, fmt.Errorf("wsrpc client: connect to %s: %w", c.url, err)
	}
	nc = handshakeDone(nc)
	var r io.Reader = nc
	if br != nil {
		r = br
	}
	deflate := false
	if c.engine.EnableCompression {
		on, err := wsio.CheckDeflateResponse(hs.Extensions)
		if err != nil {
			_ = nc.Close()
			return nil, fmt.Errorf("wsrpc client: connect to %s: %w", c.url, err)
		}
		deflate = on
	}
	obs := newObserver(c.opts.OnMessage, r, c.engine.MaxMessageSize)
	if deflate {
		obs.enableDeflate()
	}
	st := transport.NewWith(nc, obs.reader(r), &c.session, deflate, c.engine.WriteTimeout)
	conn := wsrpc.NewConn(obs.transport(st), wsrpc.ConnConfig{
		Role:         wsrpc.RoleClient,
		Registry:     c.reg,
		Options:      c.engine,
		Workers:      c.pool,
		BatchedReads: true, // transport.Stream flushes after each read
	})
	_ = conn.Start() // its OnConnect is c.onConnect, run below
	// The reader runs before OnConnect so that OnConnect can make calls.
	go func() { _ = st.Serve(conn, c.pool) }()
	if c.onConnect != nil {
		if err := c.runOnConnect(ctx, conn); err != nil {
			err = fmt.Errorf("wsrpc client: %w: %w", wsrpc.ErrConnectRefused, err)
			_ = conn.CloseWithError(wsrpc.CloseConnectRefused, "refused by the OnConnect hook", err)
			return nil, err
		}
	}
	return conn, nil
}

// runOnConnect runs Hooks.OnConnect; a panic is logged and counts as
// success, as in the engine's hooks.
func (c *Client) runOnConnect(ctx context.Context, conn *wsrpc.Conn) error {
	defer safely.Recover(c.engine.Logger, "OnConnect", conn.ID(), nil)
	return c.onConnect(ctx, conn)
}

// install makes conn the current connection and releases waiting calls.
// It reports false when the client was closed meanwhile.
func (c *Client) install(conn *wsrpc.Conn) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		_ = conn.Close()
		return false
	}
	c.conn = conn
	c.lastErr = nil
	close(c.ready)
	c.mu.Unlock()
	return true
}

// lost makes calls wait for a new connection once conn, the current one,
// has closed. Idempotent.
func (c *Client) lost(conn *wsrpc.Conn) {
	c.mu.Lock()
	if c.conn == conn && isClosed(c.ready) {
		c.ready = make(chan struct{})
	}
	c.mu.Unlock()
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Conn returns the current connection: nil while reconnecting, and once
// the client is done, the last one (its Err says why it ended).
func (c *Client) Conn() *wsrpc.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || isClosed(c.ready) {
		return c.conn
	}
	return nil
}

// current waits for a usable connection, bounded by ctx.
func (c *Client) current(ctx context.Context) (*wsrpc.Conn, error) {
	for {
		c.mu.Lock()
		ready, conn, closed := c.ready, c.conn, c.closed
		c.mu.Unlock()
		if closed {
			if conn != nil && conn.Err() != nil {
				return nil, conn.Err() // why it closed, matching ErrClosed
			}
			return nil, wsrpc.ErrClosed
		}
		select {
		case <-ready:
			err := conn.Err()
			if err == nil {
				return conn, nil
			}
			if !c.opts.Reconnect {
				return nil, err
			}
			c.lost(conn) // then wait for the next one
		case <-ctx.Done():
			c.mu.Lock()
			last := c.lastErr
			c.mu.Unlock()
			if last != nil {
				return nil, fmt.Errorf("wsrpc client: waiting for a connection to %s: %w (last attempt: %w)", c.url, ctx.Err(), last)
			}
			return nil, fmt.Errorf("wsrpc client: waiting for a connection to %s: %w", c.url, ctx.Err())
		case <-c.ctx.Done():
			return nil, wsrpc.ErrClosed
		}
	}
}

// bound applies CallTimeout to ctx when it has no deadline.
func (c *Client) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx == nil {
		ctx = context.Background()
	}
	if t := c.opts.CallTimeout; t > 0 {
		if _, has := ctx.Deadline(); !has {
			return context.WithTimeout(ctx, t)
		}
	}
	return ctx, func() {}
}

// Call calls method on the server; see wsrpc.Conn.Call. While the client is
// reconnecting, it waits for the new connection. ctx, or CallTimeout when
// ctx has no deadline, bounds the whole call, that wait included.
func (c *Client) Call(ctx context.Context, method string, params, result any) error {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	conn, err := c.current(ctx)
	if err != nil {
		return err
	}
	return conn.Call(ctx, method, params, result)
}

// Emit sends an event to the server; see wsrpc.Conn.Emit. While the client
// is reconnecting, it waits for the new connection, bounded like Call.
func (c *Client) Emit(ctx context.Context, event any) error {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	conn, err := c.current(ctx)
	if err != nil {
		return err
	}
	return conn.Emit(ctx, event)
}

// Close closes the connection (close code 1000) and stops reconnecting.
// Pending calls fail with an error matching wsrpc.ErrClosed. Done is
// closed once the client's goroutines have ended.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	conn := c.conn
	c.mu.Unlock()
	c.cancel()
	if conn != nil {
		_ = conn.Close()
	}
	return nil
}

// Done is closed when the client has closed for good: after Close, or when
// the connection is lost and Reconnect is off.
func (c *Client) Done() <-chan struct{} { return c.done }
