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
	srv  *Server
	epfd int
	mu   sync.Mutex
	// slots holds the poller's connections; an epoll event carries its
	// connection's slot. Free slots are nil and listed in free, so the
	// table costs a word a connection and lookups are one index.
	slots []*pconn
	free  []int32
	buf   []byte
}

// addLocked gives pc a slot.
func (p *poller) addLocked(pc *pconn) {
	if n := len(p.free); n > 0 {
		pc.slot = p.free[n-1]
		p.free = p.free[:n-1]
		p.slots[pc.slot] = pc
		return
	}
	pc.slot = int32(len(p.slots))
	p.slots = append(p.slots, pc)
}

// removeLocked frees pc's slot.
func (p *poller) removeLocked(pc *pconn) {
	if pc.slot >= 0 && int(pc.slot) < len(p.slots) && p.slots[pc.slot] == pc {
		p.slots[pc.slot] = nil
		p.free = append(p.free, pc.slot)
		pc.slot = -1
	}
}

// parsers lends frame parsers to connections while they hold part of a
// frame: an idle connection keeps none.
var parsers = sync.Pool{New: func() any { return new(wsio.Parser) }}

// pconn is one connection under the netpoll engine, and its Transport.
//
// It is what an idle connection costs besides its wsrpc.Conn, so it is kept
// small: the flags and the peer's close code share one word, and the
// descriptor's use count is one atomic.
type pconn struct {
	p      *poller
	nc     *netConn // nil for a descriptor the server accepted itself
	fd     int32
	slot   int32          // the connection's place in p.slots
	hs     *pollHandshake // until the upgrade completes
	parser *wsio.Parser   // only while a frame or message is incomplete
	conn   *wsrpc.Conn
	pongs  *transport.Pongs // made on the first ping
	w      wsio.Writer

	state atomic.Uint32 // st… flags; the peer's close code in the top 16 bits
	// fdRef counts the uses of the descriptor under way, with fdRetired
	// set once shutdown has run. The descriptor is closed when it is
	// retired and no read or write uses it any more, so that no use can
	// reach a number the kernel has given to another connection.
	fdRef    atomic.Int32
	deadline atomic.Int64 // of the writes under way, unix nanoseconds; 0 for none
}

// netConn is the net.Conn of a connection the server did not accept itself
// (a word in pconn where an interface would be two).
type netConn struct{ net.Conn }

// The flags of pconn.state.
const (
	stClosed     = 1 << iota // shutdown ran
	stCloseSent              // Close wrote (or tried) the close frame
	stPeerClosed             // the peer's close frame arrived
	stDeflate                // permessage-deflate was negotiated
	stParked                 // out of epoll while a worker has it (see park)
	stCodeShift  = 16
)

// setState sets the flags in bits and reports whether they were all clear.
func (pc *pconn) setState(bits uint32) bool { return pc.state.Or(bits)&bits == 0 }

func (pc *pconn) isClosed() bool { return pc.state.Load()&stClosed != 0 }

// peerCode is the code of the peer's close frame, 0 before one came.
func (pc *pconn) peerCode() int32 { return int32(pc.state.Load() >> stCodeShift) }

const fdRetired = 1 << 30

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
		p := &poller{srv: s, epfd: epfd, buf: make([]byte, readBufferSize)}
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

// pollHandshake is a netpoll connection's handshake with its timeout:
// stop fires expire, which shuts pc down. They are pooled, timer included.
type pollHandshake struct {
	handshake
	stop     *time.Timer
	deadline time.Time // when stop fires: the end of the request's context
	pc       atomic.Pointer[pconn]
}

// maxKeptHandshake is the largest handshake buffer pooled for reuse.
const maxKeptHandshake = 2 << 10

var handshakes sync.Pool

// startHandshake returns a pooled handshake for pc whose timeout runs.
func startHandshake(pc *pconn, max int, timeout time.Duration) *pollHandshake {
	h, _ := handshakes.Get().(*pollHandshake)
	if h == nil {
		h = new(pollHandshake)
	}
	h.max = max
	h.deadline = time.Now().Add(timeout)
	h.pc.Store(pc)
	if h.stop == nil {
		h.stop = time.AfterFunc(timeout, h.expire)
	} else {
		h.stop.Reset(timeout)
	}
	return h
}

func (h *pollHandshake) expire() {
	if pc := h.pc.Load(); pc != nil {
		pc.shutdown(errHandshakeTimeout)
	}
}

var errHandshakeTimeout = errors.New("handshake timeout")

// finish stops the timeout and reports whether it had not fired; then, and
// only then, release may pool h.
func (h *pollHandshake) finish() bool { return h.stop.Stop() }

// release pools h once its connection no longer uses its buffer.
func (h *pollHandshake) release() {
	h.pc.Store(nil)
	if cap(h.buf) <= maxKeptHandshake {
		h.buf = h.buf[:0]
	} else {
		h.buf = nil
	}
	handshakes.Put(h)
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
	pc := &pconn{p: p, fd: int32(fd), slot: -1}
	if nc != nil {
		pc.nc = &netConn{nc}
	}
	if up == nil {
		pc.hs = startHandshake(pc, s.maxHandshake(), s.handshakeTimeout())
	} else {
		pc.start(up.req, nil, false, identity{})
		// Bytes that came with the upgrade are handled before the poller
		// can see the connection (the map below, under p.mu, orders this
		// before the poller's reads).
		if len(up.rest) > 0 {
			pc.feedOffPoller(up.rest)
		}
		if pc.isClosed() {
			return nil // ended by what came with the upgrade
		}
	}
	p.mu.Lock()
	p.addLocked(pc)
	slot := pc.slot
	p.mu.Unlock()
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(fd), Pad: slot}); err != nil {
		p.mu.Lock()
		p.removeLocked(pc)
		p.mu.Unlock()
		if pc.hs != nil {
			pc.hs.stop.Stop()
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
			ev := &events[i]
			var pc *pconn
			p.mu.Lock()
			if int(ev.Pad) < len(p.slots) {
				pc = p.slots[ev.Pad]
			}
			p.mu.Unlock()
			// A slot freed and given to another connection earlier in
			// this batch has another descriptor (or the same number
			// reused, which then is readable).
			if pc != nil && pc.fd == ev.Fd {
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
	for _, pc := range p.slots {
		if pc != nil && pc.conn == nil {
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
	for {
		v := pc.fdRef.Load()
		if v&fdRetired != 0 {
			return false
		}
		if pc.fdRef.CompareAndSwap(v, v+1) {
			return true
		}
	}
}

// release ends a use, closing the descriptor if it was the last use of a
// retired one.
func (pc *pconn) release() {
	if pc.fdRef.Add(-1) == fdRetired {
		pc.closeFD()
	}
}

// retire closes the descriptor now, or once its last use ends; uses under
// way are woken by shutting the socket down. It runs once (from shutdown),
// and holds a use of its own while it shuts the socket down, so that the
// last other use cannot close the descriptor under it.
func (pc *pconn) retire() {
	for {
		v := pc.fdRef.Load()
		if pc.fdRef.CompareAndSwap(v, (v+1)|fdRetired) {
			if v > 0 {
				_ = unix.Shutdown(int(pc.fd), unix.SHUT_RDWR)
			}
			pc.release()
			return
		}
	}
}

func (pc *pconn) closeFD() {
	if pc.nc != nil {
		_ = pc.nc.Close()
		return
	}
	_ = unix.Close(int(pc.fd))
}

// onReadable reads once and processes what arrived.
func (pc *pconn) onReadable() {
	if pc.isClosed() || !pc.acquire() {
		return
	}
	n, err := unix.Read(int(pc.fd), pc.p.buf)
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
	defer pc.recoverData()
	s := pc.p.srv
	if hs := pc.hs; hs != nil {
		complete, rest, err := hs.feed(data)
		if err != nil {
			pc.refuse(err)
			return
		}
		if !complete {
			return
		}
		pc.hs = nil
		if s.userAtUpgrade() {
			// Authorize, CheckOrigin or a hook decides: that is user code,
			// of unknown cost, so a worker runs it while the poller goes
			// on; the connection is out of epoll until the worker is done.
			if pc.park() {
				s.workers.Go(func() {
					if pc.handshake(hs, rest) {
						pc.resume()
					}
				})
			}
			return
		}
		pc.handshake(hs, rest) // which handles rest too
		return
	}
	p := pc.reading()
	p.Feed(data)
	if s.readsOnWorker() && p.Ready() {
		// Hooks run for each message: they run on a worker.
		pc.handOff(p)
		return
	}
	if more, ended := pc.messages(p, s.engine.InlineBudget); ended {
		return
	} else if more {
		pc.handOff(p)
		return
	}
	pc.readDone(p)
}

// handshake answers the complete upgrade request in hs (rest is what
// followed it) and starts the connection; false when it ended instead.
// It releases hs.
func (pc *pconn) handshake(hs *pollHandshake, rest []byte) bool {
	s := pc.p.srv
	a, err := s.upgrade(pc, hs.buf, hs.deadline, pc.writeHandshake)
	// Only a timeout that has not fired lets hs be pooled (expire may be
	// running); a fired one shut pc down.
	stopped := hs.finish()
	if err != nil {
		pc.refuse(err)
		if stopped {
			hs.release()
		}
		return false
	}
	ok := stopped && pc.start(nil, hs.buf, a.ext != "", a.identity)
	if ok && len(rest) > 0 {
		// Frames sent with the request: fed now, while rest (hs.buf's)
		// is still valid; the parser copies what it keeps at Detach.
		p := pc.reading()
		p.Feed(rest)
		if _, ended := pc.messages(p, 0); ended {
			ok = false
		} else {
			pc.readDone(p)
		}
	}
	if stopped {
		hs.release()
	}
	return ok && !pc.isClosed()
}

// reading returns pc's parser, lending one from the pool if pc has none.
func (pc *pconn) reading() *wsio.Parser {
	p := pc.parser
	if p == nil {
		s := pc.p.srv
		p = parsers.Get().(*wsio.Parser)
		p.Reset(wsio.Server, wsio.Limits{MaxMessageSize: s.opts.MaxMessageSize})
		if pc.state.Load()&stDeflate != 0 {
			p.EnableDeflate()
		}
		p.SetPingHandler(pc)
		pc.parser = p
	}
	return p
}

// messages hands the whole messages p holds to the engine. With a
// positive budget it stops once they took longer than that and reports
// more when p holds a further frame; ended means the connection ended.
func (pc *pconn) messages(p *wsio.Parser, budget time.Duration) (more, ended bool) {
	var start time.Time
	if budget > 0 {
		start = time.Now()
	}
	for {
		text, payload, ok, err := p.Next()
		if err != nil {
			pc.parser = nil // it may refer to the poller's buffer: not reused
			pc.protocolEnd(err)
			return false, true
		}
		if !ok {
			return false, false
		}
		if text {
			pc.conn.HandleMessage(payload)
			if budget > 0 && p.Ready() && time.Since(start) > budget {
				return true, false
			}
		}
	}
}

// readDone ends the handling of a read: the parser lets go of the read's
// buffer (and goes back to the pool when idle) and the replies inline
// routes produced are written.
func (pc *pconn) readDone(p *wsio.Parser) {
	p.Detach()
	if p.Idle() {
		pc.parser = nil
		parsers.Put(p)
	}
	_ = pc.conn.Flush(false)
}

// start makes the engine connection once the upgrade is done; deflate says
// whether permessage-deflate was negotiated, who is what Identify gave. false means pc was shut down
// meanwhile (the connection is then dropped, never started).
func (pc *pconn) start(req *http.Request, head []byte, deflate bool, who identity) bool {
	s := pc.p.srv
	if deflate {
		pc.setState(stDeflate)
	}
	pc.w.Init(pc, wsio.Server)
	if deflate {
		pc.w.EnableDeflate(s.compression())
	}
	conn := s.newConn(pc, req, head, who)
	// shutdown sets stClosed before it reads pc.conn under p.mu: either it
	// sees conn, or this sees stClosed.
	pc.p.mu.Lock()
	closed := pc.isClosed()
	if !closed {
		pc.conn = conn
	}
	pc.p.mu.Unlock()
	if closed {
		return false
	}
	s.startConn(conn)
	return true
}

// protocolEnd handles a parser error: the peer's close, or a violation.
func (pc *pconn) protocolEnd(err error) {
	var ce *wsio.CloseError
	if !errors.As(err, &ce) {
		pc.shutdown(err)
		return
	}
	conn := pc.conn
	if ce.Remote {
		pc.setState(uint32(uint16(ce.Code))<<stCodeShift | stPeerClosed)
		var cause error
		if ce.Code != ws.StatusNormalClosure && ce.Code != ws.StatusNoStatusRcvd && ce.Code != ws.StatusGoingAway {
			cause = err
		}
		pc.offPoller(func() {
			conn.HandleClose(cause)
			pc.shutdown(nil)
		})
		return
	}
	pc.offPoller(func() { _ = conn.CloseWithError(int(ce.Code), ce.Reason, err) })
}

func (pc *pconn) refuse(err error) {
	if pc.hs != nil {
		pc.hs.stop.Stop()
	}
	var he *httpError
	if errors.As(err, &he) {
		_ = pc.writeHandshake(he.response())
	}
	pc.shutdown(err)
}

// shutdown removes the connection from epoll and closes it. Idempotent.
func (pc *pconn) shutdown(cause error) {
	if !pc.setState(stClosed) {
		return
	}
	p := pc.p
	p.mu.Lock()
	p.removeLocked(pc)
	conn := pc.conn
	p.mu.Unlock()
	_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, int(pc.fd), nil)
	pc.retire()
	s := p.srv
	if conn == nil {
		s.wg.Done()
		return
	}
	end := func() {
		conn.HandleClose(cause)
		s.remove(conn)
		s.wg.Done()
	}
	if s.closeHookRuns() {
		s.workers.Go(end) // the OnClose hook never runs on a poller
		return
	}
	end()
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

// Write writes b to the socket (the wsio.Writer's destination, so it runs
// under the writer's lock). Each write gets the write timeout from its own
// start, so no write (a pong) extends the deadline of another one under
// way; once Close began, its shorter deadline stands.
func (pc *pconn) Write(b []byte) (int, error) {
	if pc.state.Load()&stCloseSent == 0 {
		pc.setDeadline(pc.p.srv.opts.WriteTimeout)
	}
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
		n, err := unix.Write(int(pc.fd), b[total:])
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
	sa, err := get(int(pc.fd))
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

// OnPing answers a ping (wsio.PingHandler) through the shared pong policy
// (transport.Pongs): off the poller, the latest ping first.
func (pc *pconn) OnPing(payload []byte) {
	if pc.pongs == nil { // only the poller calls OnPing
		pc.pongs = new(transport.Pongs)
	}
	pc.pongs.Answer(payload, pc)
}

// WritePong writes a pong (transport.PongWriter).
func (pc *pconn) WritePong(payload []byte) error { return pc.w.WritePong(payload) }

// PongFailed closes the connection after a pong could not be written
// (transport.PongWriter).
func (pc *pconn) PongFailed(err error) {
	if c := pc.conn; c != nil {
		_ = c.CloseWithError(int(ws.StatusInternalServerError), "", err)
		return
	}
	pc.shutdown(err)
}

// WriteMessages implements wsrpc.Transport: writes go straight to the socket
// from the goroutine that flushes (a handler's, or one the engine starts),
// so the poller never waits on a slow reader.
func (pc *pconn) WriteMessages(msgs [][]byte) error {
	return pc.w.WriteTexts(msgs)
}

// Close implements wsrpc.Transport.
func (pc *pconn) Close(code int, reason string) error {
	if !pc.setState(stCloseSent) {
		return nil
	}
	code, reason = transport.EchoPeer(pc.peerCode(), code, reason)
	pc.setDeadline(transport.CloseTimeout)
	_ = pc.w.WriteClose(ws.StatusCode(code), reason)
	if pc.state.Load()&stPeerClosed != 0 {
		pc.shutdown(nil)
		return nil
	}
	// Wait for the peer's close frame, but not forever.
	time.AfterFunc(transport.CloseTimeout, func() { pc.shutdown(nil) })
	return nil
}
