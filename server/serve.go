package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// Engines for Serve, ServeConn and ServeUpgraded. ServeHTTP always uses the
// goroutine engine, because net/http owns those connections.
const (
	// EngineNetpoll watches idle connections with epoll: they own no
	// goroutine and no read or write buffer. Linux only; elsewhere it falls
	// back to EngineGoroutine.
	EngineNetpoll = "netpoll"
	// EngineGoroutine gives every connection a reading goroutine.
	EngineGoroutine = "goroutine"
)

// DefaultHandshakeTimeout bounds the time a client of Serve or ServeConn
// may take to send its upgrade request.
const DefaultHandshakeTimeout = 5 * time.Second

func (s *Server) engineName() string {
	switch s.opts.Engine {
	case EngineGoroutine:
		return EngineGoroutine
	case "", EngineNetpoll:
		if netpollSupported {
			return EngineNetpoll
		}
		return EngineGoroutine
	}
	return EngineGoroutine
}

// Engine reports the engine Serve and ServeConn use.
func (s *Server) Engine() string { return s.engineName() }

// Serve accepts connections on ln and serves each with the configured
// engine, without net/http: the upgrade request is read and checked by the
// server itself (bounded by HandshakeTimeout and MaxHandshakeSize), at any
// path. It returns when ln fails or the server is closed.
//
// A plain upgrade request is admitted without building an *http.Request
// when nothing needs one at upgrade time (no Authorize, no CheckOrigin, no
// OnOpen, OnAuthSuccess, OnAuthFail or OnUpgradeFail hook); anything else
// is parsed by net/http and runs those checks and hooks. Either way the
// connection keeps the request's head, and Conn.Request parses it on first
// use.
//
// With the netpoll engine, connections accepted from a *net.TCPListener are
// taken over as bare socket descriptors (Serve duplicates the descriptor
// of the one Accept returns and closes its net.Conn; those waiting behind
// it are accepted straight from the listener's descriptor, with
// TCP_NODELAY and TCP keepalive set as Accept sets them), which is most of
// what makes an idle connection cheap; other listeners' connections keep
// their net.Conn.
func (s *Server) Serve(ln net.Listener) error {
	go func() {
		<-s.ctx.Done()
		_ = ln.Close()
	}()
	raw := s.rawListener(ln)
	var tempDelay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				tempDelay = min(max(2*tempDelay, 5*time.Millisecond), time.Second)
				time.Sleep(tempDelay)
				continue
			}
			if errors.Is(err, errTooManyFiles) {
				s.opts.Logger.Warn("wsrpc server: accept: out of file descriptors", "err", err)
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return err
		}
		tempDelay = 0
		if s.engineName() == EngineNetpoll && !s.isClosing() && s.netpollAccepted(nc) {
			if raw != nil {
				s.acceptPending(raw) // the others waiting, without net.Conns
			}
			continue
		}
		s.ServeConn(nc)
	}
}

// ServeConn serves a connection accepted by your own listener, before the
// WebSocket upgrade: the server reads and answers the upgrade request. It
// returns at once; the connection is served by the configured engine. This
// is the embedding API for programs that run their own accept loop.
func (s *Server) ServeConn(nc net.Conn) {
	if s.engineName() == EngineNetpoll && !s.isClosing() {
		if err := s.netpollAdd(nc, nil); err == nil {
			return
		}
	}
	go s.serveConnGoroutine(nc)
}

// ServeUpgraded serves a connection on which you already completed the
// WebSocket upgrade yourself (for example with gobwas/ws). buffered holds
// bytes read past the upgrade request, if any; r is the upgrade request (its
// headers are what handlers see through Conn.Request; may be nil). It
// returns at once. The connection is served without extensions: your
// upgrade must not have accepted permessage-deflate.
func (s *Server) ServeUpgraded(nc net.Conn, buffered []byte, r *http.Request) {
	if !s.track() {
		_ = nc.Close()
		return
	}
	up := &upgraded{req: r, rest: append([]byte(nil), buffered...)}
	if s.engineName() == EngineNetpoll {
		if err := s.netpollAdd(nc, up); err == nil {
			return
		}
	}
	go func() {
		defer s.wg.Done()
		var rd io.Reader = nc
		if len(up.rest) > 0 {
			rd = io.MultiReader(bytes.NewReader(up.rest), nc)
		}
		s.serveStream(nc, rd, r, nil, false, identity{})
	}()
}

// upgraded is a connection handed over after its upgrade.
type upgraded struct {
	req  *http.Request
	rest []byte
}

func (s *Server) handshakeTimeout() time.Duration {
	if s.opts.HandshakeTimeout > 0 {
		return s.opts.HandshakeTimeout
	}
	return DefaultHandshakeTimeout
}

func (s *Server) maxHandshake() int {
	if s.opts.MaxHandshakeSize > 0 {
		return s.opts.MaxHandshakeSize
	}
	return DefaultMaxHandshakeSize
}

// serveConnGoroutine reads the upgrade request with a deadline, answers it,
// starts the connection's engine and serves it on a new goroutine: the
// handshake and the set-up grow this goroutine's stack, and the
// connection's reader, which lives as long as the connection, should start
// from a small one.
//
// While the server shuts down it still reads the request, for a second at
// most, to answer it 503 (admission refuses it), so that a client knows
// to go elsewhere; that wait is not one Shutdown waits for.
func (s *Server) serveConnGoroutine(nc net.Conn) {
	timeout := s.handshakeTimeout()
	handedOver, tracked := false, s.track()
	if !tracked {
		timeout = min(timeout, time.Second)
	}
	defer func() {
		if !handedOver && tracked {
			s.wg.Done()
		}
	}()
	deadline := time.Now().Add(timeout)
	_ = nc.SetReadDeadline(deadline)
	hs := handshake{max: s.maxHandshake()}
	bp := handshakeReads.Get().(*[1024]byte)
	var rest []byte
	for {
		n, err := nc.Read(bp[:])
		if err != nil {
			handshakeReads.Put(bp)
			_ = nc.Close()
			return
		}
		complete, r, herr := hs.feed(bp[:n])
		if herr != nil {
			handshakeReads.Put(bp)
			s.refuse(nc, herr)
			return
		}
		if complete {
			rest = r
			break
		}
	}
	handshakeReads.Put(bp) // hs.feed copied what it needs
	a, err := s.upgrade(nc, hs.buf, deadline, func(b []byte) error {
		_ = nc.SetWriteDeadline(time.Now().Add(s.handshakeTimeout()))
		_, err := nc.Write(b)
		_ = nc.SetWriteDeadline(time.Time{})
		return err
	})
	if err == nil && !tracked {
		// Admitted although the server was closing when this began: no
		// longer possible once closing is set, but never served untracked.
		err = errShuttingDown
	}
	if err != nil {
		s.refuse(nc, err)
		return
	}
	_ = nc.SetReadDeadline(time.Time{})
	var rd io.Reader = nc
	if len(rest) > 0 {
		rd = io.MultiReader(bytes.NewReader(append([]byte(nil), rest...)), nc)
	}
	handedOver = true
	st, c := s.startStream(nc, rd, nil, hs.buf, a.ext != "", a.identity)
	go func() {
		defer s.wg.Done()
		s.runStream(st, c)
	}()
}

// handshakeReads holds the buffers the goroutine engine reads upgrade
// requests into.
var handshakeReads = sync.Pool{New: func() any { return new([1024]byte) }}

// upgrade admits a complete request head from peer (see admitHead) and
// writes the 101 with write. The answer's ext is the negotiated extension.
func (s *Server) upgrade(peer interface{ RemoteAddr() net.Addr }, head []byte, deadline time.Time, write func([]byte) error) (admitted, error) {
	a, err := s.admitHead(peer, head, deadline)
	if err != nil {
		return admitted{}, err
	}
	bp := responseBufs.Get().(*[]byte)
	*bp = switchingProtocols((*bp)[:0], a.accept, a.ext)
	err = write(*bp)
	responseBufs.Put(bp)
	if err != nil {
		return admitted{}, err
	}
	return a, nil
}

// refuse answers a failed handshake with its HTTP status and closes.
func (s *Server) refuse(nc net.Conn, err error) {
	var he *httpError
	if errors.As(err, &he) {
		_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = nc.Write(he.response())
	}
	_ = nc.Close()
}

// ListenAndServe listens on the TCP address addr and calls Serve.
func (s *Server) ListenAndServe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("wsrpc server: listen on %s: %w", addr, err)
	}
	return s.Serve(ln)
}

// errTooManyFiles is the accept error of a process out of descriptors.
var errTooManyFiles = syscall.EMFILE
