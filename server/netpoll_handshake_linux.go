//go:build linux

// The netpoll engine's handshake: the upgrade request read on the poller
// within HandshakeTimeout, admission, and the connection's start.

package server

import (
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

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

// handshakeOf returns pc's handshake while its upgrade request is being
// read, else nil.
func (pc *pconn) handshakeOf() *pollHandshake {
	if pc.state.Load()&stHandshake == 0 {
		return nil
	}
	pc.p.mu.Lock()
	defer pc.p.mu.Unlock()
	return pc.p.handshakes[pc]
}

// endHandshake forgets pc's handshake, which it returns (nil if none).
func (pc *pconn) endHandshake() *pollHandshake {
	if pc.state.Load()&stHandshake == 0 {
		return nil
	}
	pc.p.mu.Lock()
	hs := pc.p.handshakes[pc]
	delete(pc.p.handshakes, pc)
	pc.p.mu.Unlock()
	pc.state.And(^uint32(stHandshake))
	return hs
}

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
		// is still valid; the session copies what it keeps at Release.
		pc.feedOffPoller(rest)
	}
	if stopped {
		hs.release()
	}
	return ok && !pc.isClosed()
}

// start makes the engine connection once the upgrade is done; deflate says
// whether permessage-deflate was negotiated, who is what Identify gave.
// false means pc was shut down meanwhile (the connection is then dropped,
// never started).
func (pc *pconn) start(req *http.Request, head []byte, deflate bool, who identity) bool {
	s := pc.p.srv
	pc.sess.Init(pc, &s.session, deflate)
	conn := s.newConn(&pc.sess, req, head, who)
	// shutdown sets stClosed before it reads the session's Conn under p.mu:
	// either it sees conn, or this sees stClosed.
	pc.p.mu.Lock()
	closed := pc.isClosed()
	if !closed {
		pc.sess.Attach(conn)
	}
	pc.p.mu.Unlock()
	if closed {
		return false
	}
	s.startConn(conn)
	return true
}

func (pc *pconn) refuse(err error) {
	if hs := pc.endHandshake(); hs != nil {
		hs.stop.Stop()
	}
	var he *httpError
	if errors.As(err, &he) {
		_ = pc.writeHandshake(he.response())
	}
	pc.shutdown(err)
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
