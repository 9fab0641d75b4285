//go:build linux

package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
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
//
// Connections that Serve accepts from a TCP listener are kept as bare
// descriptors: no net.Conn, no runtime poller entry, no address objects.
// Writes go straight to the socket; one that would block (a client that
// reads slowly) waits in the runtime's poller on a duplicate of the
// descriptor, made for that write only.
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

// parsers lends frame parsers to connections while they hold part of a
// frame: an idle connection keeps none.
var parsers = sync.Pool{New: func() any { return new(wsio.Parser) }}

// pconn is one connection under the netpoll engine, and its Transport.
type pconn struct {
	p      *poller
	nc     net.Conn // nil for a descriptor the server accepted itself
	fd     int
	hs     *handshake // until the upgrade completes
	hsStop *time.Timer
	parser *wsio.Parser // only while a frame or message is incomplete
	conn   *wsrpc.Conn
	pongs  *pongs // made on the first ping
	w      wsio.Writer

	deflate    bool
	closed     atomic.Bool
	peerClosed atomic.Bool
	peerCode   atomic.Int32
	deadline   atomic.Int64 // of the writes under way, unix nanoseconds; 0 for none
	closeOnce  sync.Once

	// The descriptor is closed when shutdown has run and no read or write
	// uses it any more, so that no use can reach a number the kernel has
	// given to another connection.
	fdMu    sync.Mutex
	fdUsers int32
	fdDone  bool
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

// netpollAccepted serves a connection that Serve accepted from a TCP
// listener: the engine keeps a duplicate of its descriptor and closes nc,
// so that an idle connection holds no net.Conn, no runtime poller entry
// and no address objects. false means nc could not be taken over and is
// left untouched.
func (s *Server) netpollAccepted(nc net.Conn) bool {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return false
	}
	if _, err := s.netpollEngine(); err != nil {
		return false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return false
	}
	fd := -1
	var derr error
	if err := rc.Control(func(f uintptr) { fd, derr = unix.FcntlInt(f, unix.F_DUPFD_CLOEXEC, 0) }); err != nil || derr != nil {
		return false
	}
	_ = nc.Close() // the duplicate keeps the socket open
	if !s.track() {
		_ = unix.Close(fd)
		return true
	}
	if err := s.netpollRegister(fd, nil, nil); err != nil {
		_ = unix.Close(fd)
		s.wg.Done()
	}
	return true
}

// netpollAdd puts nc under epoll. up is nil for a connection that still has
// to send its upgrade request. An error means nc cannot be polled (a TLS
// connection, say) and is left untouched for the goroutine engine.
func (s *Server) netpollAdd(nc net.Conn, up *upgraded) error {
	fd, err := fdOf(nc)
	if err != nil {
		return err
	}
	if _, err := s.netpollEngine(); err != nil {
		return err
	}
	if up == nil && !s.track() {
		_ = nc.Close()
		return nil
	}
	if err := s.netpollRegister(fd, nc, up); err != nil {
		if up == nil {
			s.wg.Done()
		}
		return err
	}
	return nil
}

// netpollRegister serves the socket fd (of nc, when not nil) on a poller.
// An error leaves the socket untouched.
func (s *Server) netpollRegister(fd int, nc net.Conn, up *upgraded) error {
	np := s.np
	p := np.pollers[np.next.Add(1)%uint32(len(np.pollers))]
	pc := &pconn{p: p, fd: fd, nc: nc}
	if up == nil {
		pc.hs = &handshake{max: s.maxHandshake()}
		pc.hsStop = time.AfterFunc(s.handshakeTimeout(), func() { pc.shutdown(errors.New("handshake timeout")) })
	} else {
		pc.start(up.req, nil, false)
		// Bytes that came with the upgrade are handled before the poller
		// can see the connection (the map below, under p.mu, orders this
		// before the poller's reads).
		if len(up.rest) > 0 {
			pc.onData(up.rest)
		}
		if pc.closed.Load() {
			return nil // ended by what came with the upgrade
		}
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
		if pc.conn != nil {
			// Already started (a ServeUpgraded connection): end it properly.
			pc.shutdown(err)
			return nil
		}
		return err
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

// closeAll drops the connections still in their handshake (the others are
// closed by their engines). pc.conn is set under p.mu when a handshake
// completes, so it tells them apart without racing the poller.
func (p *poller) closeAll() {
	p.mu.Lock()
	var pending []*pconn
	for _, pc := range p.conns {
		if pc.conn == nil {
			pending = append(pending, pc)
		}
	}
	p.mu.Unlock()
	for _, pc := range pending {
		pc.shutdown(errors.New("server closed"))
	}
}

// acquire marks a use of the descriptor; false once it is retired.
func (pc *pconn) acquire() bool {
	pc.fdMu.Lock()
	ok := !pc.fdDone
	if ok {
		pc.fdUsers++
	}
	pc.fdMu.Unlock()
	return ok
}

// release ends a use, closing the descriptor if it was the last use of a
// retired one.
func (pc *pconn) release() {
	pc.fdMu.Lock()
	pc.fdUsers--
	last := pc.fdDone && pc.fdUsers == 0
	pc.fdMu.Unlock()
	if last {
		pc.closeFD()
	}
}

// retire closes the descriptor now, or once its last use ends; uses under
// way are woken by shutting the socket down.
func (pc *pconn) retire() {
	pc.fdMu.Lock()
	pc.fdDone = true
	if pc.fdUsers > 0 {
		_ = unix.Shutdown(pc.fd, unix.SHUT_RDWR)
		pc.fdMu.Unlock()
		return
	}
	pc.fdMu.Unlock()
	pc.closeFD()
}

func (pc *pconn) closeFD() {
	if pc.nc != nil {
		_ = pc.nc.Close()
		return
	}
	_ = unix.Close(pc.fd)
}

// onReadable reads once and processes what arrived.
func (pc *pconn) onReadable() {
	if pc.closed.Load() || !pc.acquire() {
		return
	}
	n, err := unix.Read(pc.fd, pc.p.buf)
	pc.release()
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
	s := pc.p.srv
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
		_, deflate, err := s.upgrade(pc.remoteAddr(), head, pc.writeHandshake)
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
	p := pc.parser
	if p == nil {
		p = parsers.Get().(*wsio.Parser)
		p.Reset(wsio.Server, wsio.Limits{MaxMessageSize: s.opts.MaxMessageSize})
		if pc.deflate {
			p.EnableDeflate()
		}
		p.SetPingHandler(pc)
		pc.parser = p
	}
	p.Feed(data)
	for {
		text, payload, ok, err := p.Next()
		if err != nil {
			pc.parser = nil // it may refer to the poller's buffer: not reused
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
	p.Detach()
	if p.Idle() {
		pc.parser = nil
		parsers.Put(p)
	}
	_ = pc.conn.Flush(false)
}

// start makes the engine connection once the upgrade is done; deflate says
// whether permessage-deflate was negotiated.
func (pc *pconn) start(req *http.Request, head []byte, deflate bool) {
	s := pc.p.srv
	pc.deflate = deflate
	pc.w.Init(pc, wsio.Server)
	if deflate {
		pc.w.EnableDeflate(s.compression())
	}
	conn := s.newConn(pc, req, head)
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
		pc.peerCode.Store(int32(ce.Code))
		pc.peerClosed.Store(true)
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
		_ = pc.writeHandshake(he.response())
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
	pc.retire()
	if conn != nil {
		conn.HandleClose(cause)
		p.srv.remove(conn)
	}
	p.srv.wg.Done()
}

// errWouldBlock is a handshake response that did not fit the socket's
// buffer at once: the poller never waits for a client.
var errWouldBlock = errors.New("wsrpc server: the client does not read its handshake response")

// writeHandshake writes a handshake response from the poller, which must
// not wait on a client: on a bare descriptor a response that does not fit
// the socket's buffer at once fails; through a net.Conn the write may take
// a second at most.
func (pc *pconn) writeHandshake(b []byte) error {
	if pc.nc != nil {
		_ = pc.nc.SetWriteDeadline(time.Now().Add(time.Second))
		_, err := pc.nc.Write(b)
		_ = pc.nc.SetWriteDeadline(time.Time{})
		return err
	}
	_, err := pc.writeFD(b, false)
	return err
}

// setDeadline bounds the writes that follow.
func (pc *pconn) setDeadline(d time.Duration) { pc.deadline.Store(time.Now().Add(d).UnixNano()) }

func (pc *pconn) deadlineTime() time.Time {
	if d := pc.deadline.Load(); d != 0 {
		return time.Unix(0, d)
	}
	return time.Time{}
}

// Write writes b to the socket (the wsio.Writer's destination), within the
// deadline of the write under way.
func (pc *pconn) Write(b []byte) (int, error) {
	if pc.nc != nil {
		if !pc.acquire() {
			return 0, net.ErrClosed
		}
		defer pc.release()
		_ = pc.nc.SetWriteDeadline(pc.deadlineTime())
		return pc.nc.Write(b)
	}
	return pc.writeFD(b, true)
}

// writeFD writes b to the bare descriptor. When the socket's buffer is
// full it waits for the client (writeBlocking) if wait is set, and fails
// with errWouldBlock if not.
func (pc *pconn) writeFD(b []byte, wait bool) (int, error) {
	if !pc.acquire() {
		return 0, net.ErrClosed
	}
	defer pc.release()
	total := 0
	for total < len(b) {
		n, err := unix.Write(pc.fd, b[total:])
		if n > 0 {
			total += n
		}
		switch {
		case err == nil, err == unix.EINTR:
		case err == unix.EAGAIN && wait:
			n, err := pc.writeBlocking(b[total:])
			return total + n, err
		case err == unix.EAGAIN:
			return total, errWouldBlock
		default:
			return total, err
		}
	}
	return total, nil
}

// writeBlocking writes to a socket whose buffer is full, waiting in the
// runtime's poller (on a duplicate of the descriptor, made for this write)
// until the client reads or the deadline passes. The caller holds a use
// of the descriptor.
func (pc *pconn) writeBlocking(b []byte) (int, error) {
	dfd, err := unix.FcntlInt(uintptr(pc.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	f := os.NewFile(uintptr(dfd), "wsrpc")
	nc, err := net.FileConn(f) // duplicates it again, for the runtime's poller
	_ = f.Close()
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	_ = nc.SetWriteDeadline(pc.deadlineTime())
	return nc.Write(b)
}

// remoteAddr is the client's address as net/http writes it, or "".
func (pc *pconn) remoteAddr() string {
	if a := pc.RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}

// RemoteAddr returns the client's address, or nil once the connection is
// closed.
func (pc *pconn) RemoteAddr() net.Addr {
	if pc.nc != nil {
		return pc.nc.RemoteAddr()
	}
	return pc.sockAddr(unix.Getpeername)
}

// LocalAddr returns the server's address of the connection, or nil once it
// is closed.
func (pc *pconn) LocalAddr() net.Addr {
	if pc.nc != nil {
		return pc.nc.LocalAddr()
	}
	return pc.sockAddr(unix.Getsockname)
}

func (pc *pconn) sockAddr(get func(int) (unix.Sockaddr, error)) net.Addr {
	if !pc.acquire() {
		return nil
	}
	defer pc.release()
	sa, err := get(pc.fd)
	if err != nil {
		return nil
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: append(net.IP(nil), a.Addr[:]...), Port: a.Port}
	case *unix.SockaddrInet6:
		addr := &net.TCPAddr{IP: append(net.IP(nil), a.Addr[:]...), Port: a.Port}
		if a.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(a.ZoneId)); err == nil {
				addr.Zone = ifi.Name
			}
		}
		return addr
	}
	return nil
}

// pongs is the pong writer of a connection that was pinged.
type pongs struct {
	mu        sync.Mutex
	next, out []byte // the latest ping's payload; the one being answered
	has, busy bool   // next is unanswered; a writer runs
}

// OnPing answers a ping (wsio.PingHandler). Pongs are written by a
// goroutine of their own, so that the poller never waits on a client that
// does not read. While a pong is on its way, later pings replace each
// other and the latest is answered next (RFC 6455 §5.5.3).
func (pc *pconn) OnPing(payload []byte) {
	ps := pc.pongs // only the poller calls OnPing
	if ps == nil {
		ps = new(pongs)
		pc.pongs = ps
	}
	ps.mu.Lock()
	ps.next, ps.has = append(ps.next[:0], payload...), true
	start := !ps.busy
	ps.busy = true
	ps.mu.Unlock()
	if start {
		go pc.writePongs(ps)
	}
}

func (pc *pconn) writePongs(ps *pongs) {
	for {
		ps.mu.Lock()
		if !ps.has {
			ps.busy = false
			ps.mu.Unlock()
			return
		}
		ps.next, ps.out, ps.has = ps.out[:0], ps.next, false
		ps.mu.Unlock()
		pc.setDeadline(pc.p.srv.opts.WriteTimeout)
		_ = pc.w.WritePong(ps.out) // once closed, later writes fail at once
	}
}

// WriteMessages implements wsrpc.Transport: writes go straight to the socket
// from the goroutine that flushes (a handler's, or one the engine starts),
// so the poller never waits on a slow reader.
func (pc *pconn) WriteMessages(msgs [][]byte) error {
	pc.setDeadline(pc.p.srv.opts.WriteTimeout)
	return pc.w.WriteTexts(msgs)
}

// Close implements wsrpc.Transport.
func (pc *pconn) Close(code int, reason string) error {
	pc.closeOnce.Do(func() {
		code, reason = transport.EchoPeer(pc.peerCode.Load(), code, reason)
		pc.setDeadline(transport.CloseTimeout)
		_ = pc.w.WriteClose(ws.StatusCode(code), reason)
		if pc.peerClosed.Load() {
			pc.shutdown(nil)
			return
		}
		// Wait for the peer's close frame, but not forever.
		time.AfterFunc(transport.CloseTimeout, func() { pc.shutdown(nil) })
	})
	return nil
}
