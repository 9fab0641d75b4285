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

	"golang.org/x/sys/unix"

	"github.com/wsrpc/wsrpc-go/session"
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
	// table costs a word a connection and lookups are two indexes. It is
	// made of pages of slotsPerPage, so that growing it copies and drops
	// nothing.
	slots [][]*pconn
	used  int // slots given out, free ones included
	free  []int32
	buf   []byte
	// handshakes are the handshakes under way of the poller's connections
	// (flagged stHandshake): a connection holds none once upgraded.
	handshakes map[*pconn]*pollHandshake
}

// slotsPerPage is the size of a page of poller.slots (2 KiB).
const slotsPerPage = 256

// slotLocked returns the connection in slot i, or nil.
func (p *poller) slotLocked(i int32) *pconn {
	if i < 0 || int(i) >= p.used {
		return nil
	}
	return p.slots[i/slotsPerPage][i%slotsPerPage]
}

// addLocked gives pc a slot.
func (p *poller) addLocked(pc *pconn) {
	if n := len(p.free); n > 0 {
		pc.slot = p.free[n-1]
		p.free = p.free[:n-1]
	} else {
		if p.used%slotsPerPage == 0 {
			p.slots = append(p.slots, make([]*pconn, slotsPerPage))
		}
		pc.slot = int32(p.used)
		p.used++
	}
	p.slots[pc.slot/slotsPerPage][pc.slot%slotsPerPage] = pc
}

// removeLocked frees pc's slot.
func (p *poller) removeLocked(pc *pconn) {
	if p.slotLocked(pc.slot) == pc {
		p.slots[pc.slot/slotsPerPage][pc.slot%slotsPerPage] = nil
		p.free = append(p.free, pc.slot)
		pc.slot = -1
	}
}

// pconn is one connection under the netpoll engine: the Host of its
// session (which is the connection's Transport), the descriptor and its
// place in the poller.
//
// It is what an idle connection costs besides its wsrpc.Conn, so it is kept
// small: the session lends its parser only while a frame is incomplete,
// the flags share one word, and the descriptor's use count is one atomic.
type pconn struct {
	p  *poller
	nc *netConn // nil for a descriptor the server accepted itself

	fd    int32
	slot  int32         // the connection's place in p.slots
	state atomic.Uint32 // st… flags
	// fdRef counts the uses of the descriptor under way, with fdRetired
	// set once shutdown has run. The descriptor is closed when it is
	// retired and no read or write uses it any more, so that no use can
	// reach a number the kernel has given to another connection.
	fdRef atomic.Int32

	sess session.Session // parse, pongs, close handshake: the shared core
}

// netConn is the net.Conn of a connection the server did not accept itself
// (a word in pconn where an interface would be two).
type netConn struct{ net.Conn }

// The flags of pconn.state.
const (
	stClosed    = 1 << iota // shutdown ran
	stClosing               // the session began its close handshake
	stParked                // out of epoll while a worker has it (see park)
	stHandshake             // the upgrade request is being read: p.handshakes has its handshake
)

// setState sets the flags in bits and reports whether they were all clear.
func (pc *pconn) setState(bits uint32) bool { return pc.state.Or(bits)&bits == 0 }

func (pc *pconn) isClosed() bool { return pc.state.Load()&stClosed != 0 }

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
	rc := s.netpollRaw(tc)
	if rc == nil {
		return false
	}
	fd := -1
	var derr error
	if err := rc.Control(func(f uintptr) { fd, derr = unix.FcntlInt(f, unix.F_DUPFD_CLOEXEC, 0) }); err != nil || derr != nil {
		return false
	}
	_ = nc.Close() // the duplicate keeps the socket open
	s.netpollServeFD(fd)
	return true
}

// netpollServeFD serves the socket fd, taken over from a TCP listener's
// connection; it owns fd.
func (s *Server) netpollServeFD(fd int) {
	if !s.track() {
		_ = unix.Close(fd)
		return
	}
	if err := s.netpollRegister(fd, nil, nil); err != nil {
		_ = unix.Close(fd)
		s.wg.Done()
	}
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
	var hs *pollHandshake
	if up == nil {
		hs = startHandshake(pc, s.maxHandshake(), s.handshakeTimeout())
		pc.setState(stHandshake)
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
	if hs != nil {
		if p.handshakes == nil {
			p.handshakes = make(map[*pconn]*pollHandshake)
		}
		p.handshakes[pc] = hs
	}
	slot := pc.slot
	p.mu.Unlock()
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(fd), Pad: slot}); err != nil {
		p.mu.Lock()
		p.removeLocked(pc)
		p.mu.Unlock()
		if hs := pc.endHandshake(); hs != nil {
			hs.stop.Stop()
		}
		if pc.sess.Conn() != nil {
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
			p.srv.opts.Logger.Error("wsrpc server: epoll_wait failed", "err", err)
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
			pc = p.slotLocked(ev.Pad)
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
// closed by their engines). The session's Conn is attached under p.mu when
// a handshake completes, so it tells them apart without racing the poller.
func (p *poller) closeAll() {
	p.mu.Lock()
	var pending []*pconn
	for _, page := range p.slots {
		for _, pc := range page {
			if pc != nil && pc.sess.Conn() == nil {
				pending = append(pending, pc)
			}
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
	if hs := pc.handshakeOf(); hs != nil {
		complete, rest, err := hs.feed(data)
		if err != nil {
			pc.refuse(err)
			return
		}
		if !complete {
			return
		}
		pc.endHandshake()
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
	sess := &pc.sess
	sess.Buffer(data)
	if s.readsOnWorker() && sess.Ready() {
		// Hooks run for each message: they run on a worker.
		pc.handOff()
		return
	}
	more, err := sess.Handle(s.opts.InlineBudget)
	switch {
	case err != nil:
		pc.endRead(err)
	case more:
		pc.handOff()
	default:
		sess.Release(false)
	}
}

// endRead ends the session's read side with err, the peer's close or a
// violation (the session picks the close code), off the poller when the
// OnClose hook runs (see offPoller).
func (pc *pconn) endRead(err error) { pc.offPoller(func() { pc.sess.End(err) }) }
