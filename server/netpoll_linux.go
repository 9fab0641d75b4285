//go:build linux

package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/internal/transport"
	"github.com/wsrpc/wsrpc-go/internal/wsio"
)

const netpollSupported = true

// readBufferSize is the read buffer of each poller: one per poller, shared
// by all of its connections, so an idle connection owns none.
const readBufferSize = 64 << 10

// netpoll is the epoll engine: a few pollers, each with its own epoll
// instance, its goroutine and its read buffer. Connections are spread over
// them; a poller reads what is ready (level-triggered, one read per event,
// so no connection starves the others), parses it incrementally and hands
// whole messages to the engine, which never blocks it: handlers run on
// goroutines of their own and replies are written by them.
type netpoll struct {
	pollers []*poller
	next    atomic.Uint32
}

type poller struct {
	srv   *Server
	epfd  int
	mu    sync.Mutex
	conns map[int]*pconn
	buf   []byte
}

// pconn is one connection under the netpoll engine.
type pconn struct {
	p      *poller
	fd     int
	nc     net.Conn
	hs     *handshake // until the upgrade completes
	hsStop *time.Timer
	parser *wsio.Parser
	st     *pollStream
	conn   *wsrpc.Conn
	closed atomic.Bool
}

// netpollEngine starts the pollers on first use.
func (s *Server) netpollEngine() (*netpoll, error) {
	s.npOnce.Do(func() { s.np, s.npErr = s.startNetpoll() })
	return s.np, s.npErr
}

func (s *Server) startNetpoll() (*netpoll, error) {
	n := max(1, min(runtime.GOMAXPROCS(0), 8))
	np := &netpoll{}
	for i := 0; i < n; i++ {
		epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			return nil, fmt.Errorf("wsrpc server: epoll_create1: %w", err)
		}
		p := &poller{srv: s, epfd: epfd, conns: make(map[int]*pconn), buf: make([]byte, readBufferSize)}
		np.pollers = append(np.pollers, p)
		go p.loop()
	}
	go func() {
		<-s.ctx.Done()
		for _, p := range np.pollers {
			p.closeAll()
		}
	}()
	return np, nil
}

func fdOf(nc net.Conn) (int, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1, errors.New("not a syscall.Conn")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return -1, err
	}
	return fd, nil
}

// netpollAdd puts nc under epoll. up is nil for a connection that still has
// to send its upgrade request. An error means nc cannot be polled (a TLS
// connection, say) and is left untouched for the goroutine engine.
func (s *Server) netpollAdd(nc net.Conn, up *upgraded) error {
	fd, err := fdOf(nc)
	if err != nil {
		return err
	}
	np, err := s.netpollEngine()
	if err != nil {
		return err
	}
	if up == nil && !s.track() {
		_ = nc.Close()
		return nil
	}
	p := np.pollers[np.next.Add(1)%uint32(len(np.pollers))]
	pc := &pconn{p: p, fd: fd, nc: nc}
	if up == nil {
		pc.hs = &handshake{max: s.maxHandshake()}
		pc.hsStop = time.AfterFunc(s.handshakeTimeout(), func() { pc.shutdown(errors.New("handshake timeout")) })
	} else {
		pc.start(up.req, nil, false)
	}
	p.mu.Lock()
	p.conns[fd] = pc
	p.mu.Unlock()
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(fd)}); err != nil {
		p.mu.Lock()
		delete(p.conns, fd)
		p.mu.Unlock()
		if pc.hsStop != nil {
			pc.hsStop.Stop()
		}
		if up == nil {
			s.wg.Done()
		}
		return err
	}
	if up != nil && len(up.rest) > 0 {
		pc.onData(up.rest)
	}
	return nil
}

func (p *poller) loop() {
	events := make([]unix.EpollEvent, 256)
	wait, idle := 0, 0
	for {
		n, err := unix.EpollWait(p.epfd, events, wait)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			p.srv.engine.Logger.Error("wsrpc server: epoll_wait failed", "err", err)
			return
		}
		if n == 0 {
			if idle < 3 {
				// Nothing ready: let the handlers this poller started run
				// (and write their replies) before blocking. A goroutine
				// blocked in epoll_wait keeps its P until the runtime's
				// monitor takes it back, which can take milliseconds.
				runtime.Gosched()
				idle++
			} else {
				wait = -1
			}
			continue
		}
		wait, idle = 0, 0
		for i := 0; i < n; i++ {
			fd := int(events[i].Fd)
			p.mu.Lock()
			pc := p.conns[fd]
			p.mu.Unlock()
			if pc != nil {
				pc.onReadable()
			}
		}
	}
}

func (p *poller) closeAll() {
	p.mu.Lock()
	all := make([]*pconn, 0, len(p.conns))
	for _, pc := range p.conns {
		all = append(all, pc)
	}
	p.mu.Unlock()
	for _, pc := range all {
		if pc.hs != nil {
			pc.shutdown(errors.New("server closed"))
		}
	}
}

// onReadable reads once and processes what arrived.
func (pc *pconn) onReadable() {
	if pc.closed.Load() {
		return
	}
	n, err := unix.Read(pc.fd, pc.p.buf)
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return
	case err != nil:
		pc.shutdown(err)
		return
	case n == 0:
		pc.shutdown(io.EOF)
		return
	}
	pc.onData(pc.p.buf[:n])
}

func (pc *pconn) onData(data []byte) {
	if pc.hs != nil {
		complete, rest, err := pc.hs.feed(data)
		if err != nil {
			pc.refuse(err)
			return
		}
		if !complete {
			return
		}
		pc.hsStop.Stop()
		pc.hsStop = nil // an idle connection keeps no timer
		if pc.closed.Load() {
			return
		}
		head := pc.hs.buf
		pc.hs = nil
		_, deflate, err := pc.p.srv.upgrade(pc.nc, head)
		if err != nil {
			pc.refuse(err)
			return
		}
		pc.start(nil, head, deflate)
		if len(rest) == 0 {
			return
		}
		data = rest
	}
	pc.parser.Feed(data)
	for {
		text, payload, ok, err := pc.parser.Next()
		if err != nil {
			pc.protocolEnd(err)
			return
		}
		if !ok {
			break
		}
		if text {
			pc.conn.HandleMessage(payload)
		}
	}
	pc.parser.Detach()
	_ = pc.conn.Flush(false)
}

// start makes the engine connection once the upgrade is done; deflate says
// whether permessage-deflate was negotiated.
func (pc *pconn) start(req *http.Request, head []byte, deflate bool) {
	s := pc.p.srv
	pc.parser = wsio.NewParser(wsio.Server, wsio.Limits{MaxMessageSize: s.opts.MaxMessageSize})
	pc.st = &pollStream{pc: pc, w: wsio.NewWriter(pc.nc, wsio.Server), writeTimeout: s.opts.WriteTimeout}
	if deflate {
		pc.parser.EnableDeflate()
		pc.st.w.EnableDeflate(s.compression())
	}
	if pc.st.writeTimeout <= 0 {
		pc.st.writeTimeout = transport.DefaultWriteTimeout
	}
	pc.parser.SetControlHandler(func(payload []byte) {
		_ = pc.nc.SetWriteDeadline(time.Now().Add(pc.st.writeTimeout))
		_ = pc.st.w.WritePong(payload)
	})
	conn := s.newConn(pc.st, req, head)
	pc.p.mu.Lock()
	pc.conn = conn
	pc.p.mu.Unlock()
	s.add(conn)
	conn.Start()
}

// protocolEnd handles a parser error: the peer's close, or a violation.
func (pc *pconn) protocolEnd(err error) {
	var ce *wsio.CloseError
	if !errors.As(err, &ce) {
		pc.shutdown(err)
		return
	}
	if ce.Remote {
		pc.st.peerCode.Store(int32(ce.Code))
		pc.st.peerClosed.Store(true)
		var cause error
		if ce.Code != ws.StatusNormalClosure && ce.Code != ws.StatusNoStatusRcvd && ce.Code != ws.StatusGoingAway {
			cause = err
		}
		pc.conn.HandleClose(cause)
		pc.shutdown(nil)
		return
	}
	_ = pc.conn.CloseWithError(int(ce.Code), ce.Reason, err)
}

func (pc *pconn) refuse(err error) {
	if pc.hsStop != nil {
		pc.hsStop.Stop()
	}
	var he *httpError
	if errors.As(err, &he) {
		_ = pc.nc.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = pc.nc.Write(he.response())
	}
	pc.shutdown(err)
}

// shutdown removes the connection from epoll and closes it. Idempotent.
func (pc *pconn) shutdown(cause error) {
	if !pc.closed.CompareAndSwap(false, true) {
		return
	}
	p := pc.p
	p.mu.Lock()
	if p.conns[pc.fd] == pc {
		delete(p.conns, pc.fd)
	}
	conn := pc.conn
	p.mu.Unlock()
	_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, pc.fd, nil)
	_ = pc.nc.Close()
	if conn != nil {
		conn.HandleClose(cause)
		p.srv.remove(conn)
	}
	p.srv.wg.Done()
}

// pollStream is the Transport of a netpoll connection: writes go straight to
// the socket from the goroutine that flushes (a handler's, or one the engine
// starts), so the poller never waits on a slow reader.
type pollStream struct {
	pc           *pconn
	w            *wsio.Writer
	writeTimeout time.Duration
	closeOnce    sync.Once
	peerClosed   atomic.Bool
	peerCode     atomic.Int32
}

func (ps *pollStream) WriteMessages(msgs [][]byte) error {
	_ = ps.pc.nc.SetWriteDeadline(time.Now().Add(ps.writeTimeout))
	return ps.w.WriteTexts(msgs)
}

func (ps *pollStream) Close(code int, reason string) error {
	ps.closeOnce.Do(func() {
		code, reason = transport.EchoPeer(ps.peerCode.Load(), code, reason)
		_ = ps.pc.nc.SetWriteDeadline(time.Now().Add(transport.CloseTimeout))
		_ = ps.w.WriteClose(ws.StatusCode(code), reason)
		if ps.peerClosed.Load() {
			ps.pc.shutdown(nil)
			return
		}
		// Wait for the peer's close frame, but not forever.
		time.AfterFunc(transport.CloseTimeout, func() { ps.pc.shutdown(nil) })
	})
	return nil
}
