// Package server serves wsrpc over WebSocket: an http.Handler that upgrades
// requests, runs the shared connection engine for each client, keeps a
// registry of connected clients, and can broadcast calls and events to them.
//
//	reg := wsrpc.NewRegistry()
//	type pair struct {
//		A int `json:"a"`
//		B int `json:"b"`
//	}
//	reg.MustAdd("subtract", func(ctx context.Context, p pair) int { return p.A - p.B }) // {"a":1,"b":9} → -8
//	srv := server.New(reg, nil)
//	http.Handle("/ws/", srv)
package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gobwas/ws"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/internal/transport"
	"github.com/wsrpc/wsrpc-go/internal/wsio"
	"github.com/wsrpc/wsrpc-go/session"
)

// Options configure a Server. The zero value is ready to use.
//
// Who a client is comes from Authorize and Identify. Give a connection an
// id (Identify) only from what Authorize verified, such as a signed token's
// subject, never from a value the client merely claims (a query parameter,
// a header): the newer connection of an id replaces the older, so a claimed
// id lets any client disconnect another and receive the calls meant for it.
type Options struct {
	// Options are what both sides share: the message size limit, the write
	// timeout, compression, keepalive, the engine's limits, hooks and
	// logger, each with the default wsrpc.Options documents.
	wsrpc.Options

	// Authorize decides whether an upgrade request may proceed; false answers
	// HTTP 403 without upgrading. It sees the request's headers and cookies.
	// It may block: under Serve it runs on a worker, never a netpoll poller,
	// and the request's context ends when HandshakeTimeout runs out. A panic
	// answers HTTP 500 to that request and is logged with its stack (as for
	// CheckOrigin and the request hooks). Default: every request is allowed.
	Authorize func(r *http.Request) bool

	// Identify, when set, names each connection at admission, after
	// Authorize: id becomes Conn.ID (so Server.Client(id) finds it) and
	// value is what handlers read with wsrpc.PeerValue(ctx) or Conn.Value;
	// the request itself is not kept for them. An empty id keeps the
	// generated one. An id must be 1 to MaxIDLength bytes of visible ASCII
	// (no spaces): another answers HTTP 400. An error answers HTTP 403 and
	// reaches OnAuthFail and OnUpgradeFail's error (errors.Is finds it).
	// A connection given the id of a connected one replaces it: the older
	// is closed with CloseReplaced, so a device that reconnects before the
	// server noticed its old connection died is not locked out. Hence the
	// id must come from what Authorize (or Identify itself) verified, such
	// as a signed token's subject, never from a value the client merely
	// claims (?id=, X-Client-Id): any client could then disconnect another
	// and receive its calls (examples/cluster checks HMAC-signed tokens).
	// It runs where Authorize runs, and a panic answers HTTP 500.
	Identify func(r *http.Request) (id string, value any, err error)

	// Engine chooses how Serve, ServeConn and ServeUpgraded run connections:
	// EngineNetpoll (the default on Linux) or EngineGoroutine.
	Engine string

	// HandshakeTimeout bounds the time a client of Serve or ServeConn takes to
	// send its upgrade request. Default DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration

	// MaxHandshakeSize bounds the upgrade request of Serve and ServeConn.
	// Default DefaultMaxHandshakeSize.
	MaxHandshakeSize int

	// Path, when set, is the only request path Serve and ServeConn upgrade
	// (others get 404). ServeHTTP leaves paths to your mux.
	Path string

	// AllowedOrigins lists the origins ("https://app.example.com", or just
	// the host "app.example.com"; "*" for any) whose pages may connect, on
	// top of the server's own host. By default a request that carries an
	// Origin header (every browser's does) must come from the same host:
	// the defence against cross-site WebSocket hijacking. Requests without
	// Origin (non-browser clients) are not affected.
	AllowedOrigins []string
	// CheckOrigin, when set, replaces the origin rule above.
	CheckOrigin func(r *http.Request) bool

	// MaxConnections caps the connections served at once; further upgrade
	// requests get HTTP 503. Default 0: no cap.
	MaxConnections int
}

// Server is an http.Handler serving wsrpc connections. Mount it at any path.
// All methods are safe for concurrent use.
type Server struct {
	reg    *wsrpc.Registry
	opts   Options
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	ids     idIndex       // a connected client's place in order, by id
	order   []*wsrpc.Conn // connection order, for Broadcast; nil where a client left
	holes   int           // nils in order
	closing bool
	wg      sync.WaitGroup

	workers *wsrpc.WorkerPool // handler goroutines shared by all connections
	session session.Config    // what every connection's session shares
	queued  session.Config    // session, for hosts whose writes never block (Upgrade)

	npOnce sync.Once // the netpoll engine, started on first use
	np     *netpoll
	npErr  error
}

// New returns a server that exposes the routes of reg to its clients. opts
// may be nil.
func New(reg *wsrpc.Registry, opts *Options) *Server {
	s := &Server{reg: reg, workers: wsrpc.NewWorkerPool(0)}
	if opts != nil {
		s.opts = *opts
	}
	if s.reg == nil {
		s.reg = wsrpc.NewRegistry()
	}
	// Resolved once: every connection shares &s.opts.Options.
	s.opts.Options = *s.opts.Options.Resolved()
	s.session = session.Config{
		Role:                 wsrpc.RoleServer,
		MaxMessageSize:       s.opts.MaxMessageSize,
		CompressionThreshold: s.opts.CompressionThreshold,
		CompressionLevel:     s.opts.CompressionLevel,
	}
	s.queued = s.session
	s.queued.WriteNeverBlocks = true
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Registry returns the routes the server exposes.
func (s *Server) Registry() *wsrpc.Registry { return s.reg }

func (s *Server) hooks() *wsrpc.Hooks { return s.opts.Hooks }

// ServeHTTP authorizes and upgrades the request, then serves the connection
// until it closes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a, err := s.admit(r, false)
	if err == nil && !s.track() {
		err = errShuttingDown
	}
	if err != nil {
		he := err.(*httpError)
		http.Error(w, fmt.Sprintf("%d: %s", he.status, he.msg), he.status)
		return
	}
	defer s.wg.Done()

	var up ws.HTTPUpgrader
	ext := a.ext
	if ext != "" {
		up.Header = http.Header{wsio.ExtensionHeader: {ext}}
	}
	nc, rw, _, err := up.Upgrade(r, w)
	if err != nil {
		s.upgradeFailed(r, err)
		return
	}
	var rd io.Reader = nc
	if rw != nil && rw.Reader.Buffered() > 0 {
		rd = rw.Reader
	}
	s.serveStream(nc, rd, r, nil, ext != "", a.identity)
}

// negotiate returns the Sec-WebSocket-Extensions answer to r: the accepted
// permessage-deflate parameters, or "".
func (s *Server) negotiate(r *http.Request) string {
	if !s.opts.EnableCompression {
		return ""
	}
	return wsio.NegotiateDeflate(r.Header.Values(wsio.ExtensionHeader))
}

// serveStream runs an upgraded connection on the calling goroutine until it
// closes. deflate says whether permessage-deflate was negotiated.
func (s *Server) serveStream(nc net.Conn, rd io.Reader, r *http.Request, head []byte, deflate bool, who identity) {
	st, c := s.startStream(nc, rd, r, head, deflate, who)
	s.runStream(st, c)
}

// startStream makes and registers the engine of an upgraded connection and
// starts it (its OnConnect hook runs here); runStream then reads it. The
// goroutine engine runs the two on different goroutines, so that the
// reader, which lives as long as the connection, starts from a small stack
// that this set-up did not grow.
func (s *Server) startStream(nc net.Conn, rd io.Reader, r *http.Request, head []byte, deflate bool, who identity) (*transport.Stream, *wsrpc.Conn) {
	st := transport.NewWith(nc, rd, &s.session, deflate, s.opts.WriteTimeout)
	c := s.newConn(st, r, head, who)
	s.startConn(c)
	return st, c
}

// runStream reads the connection until it ends.
func (s *Server) runStream(st *transport.Stream, c *wsrpc.Conn) {
	defer s.remove(c)
	_ = st.Serve(c, s.workers)
}

// newConn makes the engine of a server connection. r is the parsed upgrade
// request, or head its raw bytes (kept instead: far smaller, parsed again
// only if a handler asks for Conn.Request); who is what Identify gave.
func (s *Server) newConn(t wsrpc.Transport, r *http.Request, head []byte, who identity) *wsrpc.Conn {
	return wsrpc.NewConn(t, wsrpc.ConnConfig{
		Role:        wsrpc.RoleServer,
		Registry:    s.reg,
		Options:     &s.opts.Options, // resolved once in New, shared by every connection
		Request:     r,
		RequestHead: compactHead(head),
		ID:          who.id,
		Value:       who.value,
		Context:     s.ctx,
		Workers:     s.workers,
		// Both engines flush after each read.
		BatchedReads: true,
	})
}

// handshakeOnly are the request headers that only served the upgrade:
// connections do not keep them.
var handshakeOnly = []string{"Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Extensions"}

// compactHead returns a copy of exactly the size needed of a request head
// without the handshakeOnly headers (the head as it is if it folds header
// lines). nil stays nil.
func compactHead(head []byte) []byte {
	if head == nil {
		return nil
	}
	size, first := 0, true
	for line := range bytes.Lines(head) {
		if !first && (line[0] == ' ' || line[0] == '\t') {
			return append(make([]byte, 0, len(head)), head...) // obsolete line folding: keep every line
		}
		if first || keepHeaderLine(line) {
			size += len(line)
		}
		first = false
	}
	out := make([]byte, 0, size)
	first = true
	for line := range bytes.Lines(head) {
		if first || keepHeaderLine(line) {
			out = append(out, line...)
		}
		first = false
	}
	return out
}

// keepHeaderLine reports whether a header line is not one of handshakeOnly.
func keepHeaderLine(line []byte) bool {
	name, _, ok := bytes.Cut(line, []byte(":"))
	if !ok {
		return true
	}
	// Compared as they are: net/http takes "Upgrade " (a space before the
	// colon) for another header, so it is kept.
	for _, h := range handshakeOnly {
		if bytes.EqualFold(name, []byte(h)) {
			return false
		}
	}
	return true
}

// track counts a connection for Shutdown; false when shutting down.
func (s *Server) track() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.wg.Add(1)
	return true
}

// startConn registers c and starts it (its OnConnect hook runs; an error
// from it has closed c with wsrpc.CloseConnectRefused, and the reader
// ends as for any close). A
// connection that Close or Shutdown began before could see is closed
// at once with 1001 rather than left open: the registry is what their
// sweep closes, so registering and checking closing under one lock leaves
// no connection behind them. A connection that had c's id is closed with
// CloseReplaced.
func (s *Server) startConn(c *wsrpc.Conn) {
	old, closing := s.add(c)
	_ = c.Start() // an error has closed c: nothing else to do
	if old != nil {
		_ = old.CloseWithError(CloseReplaced, "replaced by a newer connection with the same id", nil)
	}
	if closing {
		_ = c.CloseWithError(1001, "server shutting down", nil)
	}
}

// add registers c, replacing the connection of the same id, which it
// returns; closing reports that Close or Shutdown began.
func (s *Server) add(c *wsrpc.Conn) (old *wsrpc.Conn, closing bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids.reserve(s.order)
	s.order = appendDoubling(s.order, c)
	if at := s.ids.put(s.order, c, len(s.order)-1); at >= 0 {
		old = s.order[at]
		s.order[at] = nil
		s.holes++
	}
	return old, s.closing
}

// remove forgets c in O(1): its place in order is left nil, and order is
// compacted once half of it is holes, so that a server with many
// connections never scans them all for each one that leaves.
func (s *Server) remove(c *wsrpc.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := s.ids.remove(s.order, c)
	if at < 0 {
		return
	}
	s.order[at] = nil
	s.holes++
	if s.holes >= 32 && 2*s.holes >= len(s.order) {
		s.compactLocked()
	}
}

// compactLocked drops the holes of order, keeping the connection order,
// and gives back memory when order shrank a lot.
func (s *Server) compactLocked() {
	inPlace := s.ids.n >= cap(s.order)/4
	live := s.order[:0]
	if !inPlace {
		live = make([]*wsrpc.Conn, 0, 2*s.ids.n)
	}
	for _, c := range s.order {
		if c != nil {
			live = append(live, c)
		}
	}
	if inPlace {
		clear(s.order[len(live):]) // no stale references past the end
	}
	s.order, s.holes = live, 0
	s.ids.rebuild(live, sizeFor(len(live)))
}

func (s *Server) connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ids.n
}

// Clients returns the connected clients in the order they connected.
func (s *Server) Clients() []*wsrpc.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*wsrpc.Conn, 0, s.ids.n)
	for _, c := range s.order {
		if c != nil {
			out = append(out, c)
		}
	}
	return out
}

// Client returns the connected client with the given id, or nil.
func (s *Server) Client(id string) *wsrpc.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if at := s.ids.get(s.order, id); at >= 0 {
		return s.order[at]
	}
	return nil
}

// Shutdown stops accepting connections, waits for running handlers to
// finish and their replies to be written, then closes every connection with
// close code 1001 ("going away"). It returns when all connections are gone,
// or with ctx's error when ctx ends first (the remaining connections are then
// closed at once).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	for _, c := range s.Clients() {
		go func() {
			if err := c.Drain(ctx); err == nil {
				_ = c.CloseWithError(1001, "server shutting down", nil)
			}
		}()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

// Close closes every connection at once (close code 1001); running handlers
// see their context cancelled and their replies are not sent.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.cancel()
	for _, c := range s.Clients() {
		_ = c.CloseWithError(1001, "server closed", nil)
	}
	return nil
}
