//go:build linux

package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
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

// PeerCloseCode is peerCode for wsrpc.Conn.PeerCloseCode.
func (pc *pconn) PeerCloseCode() int { return int(pc.peerCode()) }

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
