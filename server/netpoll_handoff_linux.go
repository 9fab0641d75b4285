//go:build linux

package server

import (
	"golang.org/x/sys/unix"
)

// A poller only reads bytes and hands whole messages to the engine; what
// may take long (user code at upgrade time, per-message hooks, the rest of
// a read whose inline handlers ran past InlineBudget, the OnClose hook)
// goes to a worker. Meanwhile the connection is parked: out of epoll, so
// that the poller neither reads it nor spins on its level-triggered
// readiness, and the worker owns its poller-side state (the handshake, the
// session's read side) alone. resume puts it back once the worker is done.

// park takes pc out of epoll; false when it is closed (nothing to do).
// Parking a parked connection is a no-op.
func (pc *pconn) park() bool {
	if !pc.acquire() {
		return false
	}
	defer pc.release()
	if pc.isClosed() {
		return false
	}
	if !pc.setState(stParked) {
		return true
	}
	if err := unix.EpollCtl(pc.p.epfd, unix.EPOLL_CTL_DEL, int(pc.fd), nil); err != nil && err != unix.ENOENT {
		pc.shutdown(err)
		return false
	}
	return true
}

// resume puts a parked pc back under epoll (its poller sees what arrived
// meanwhile: epoll is level-triggered). The registration is made under
// p.mu, which the poller takes to find a connection from its event: what
// the worker did to pc happens before the poller's next use of it.
func (pc *pconn) resume() {
	if !pc.acquire() {
		return
	}
	defer pc.release()
	p := pc.p
	p.mu.Lock()
	pc.state.And(^uint32(stParked))
	var err error
	// shutdown sets stClosed, then frees the slot under p.mu, then
	// removes the descriptor from epoll: if it is not closed here, its
	// removal comes after this registration.
	if slot := pc.slot; slot >= 0 && !pc.isClosed() {
		err = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, int(pc.fd), &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: pc.fd, Pad: slot})
	}
	p.mu.Unlock()
	if err != nil && err != unix.EEXIST {
		pc.shutdown(err)
	}
}

// handOff parks pc and lets a worker handle the messages its session
// holds, then resume it.
func (pc *pconn) handOff() {
	pc.sess.Detach() // from here on the session must not refer to the poller's buffer
	if !pc.park() {
		return
	}
	pc.p.srv.workers.Go(func() {
		pc.handle()
		pc.resume()
	})
}

// handle hands the whole messages the session holds to the engine and
// ends the read.
func (pc *pconn) handle() {
	if _, err := pc.sess.Handle(0); err != nil {
		pc.endRead(err)
		return
	}
	pc.sess.Release(false)
}

// offPoller runs end, which ends the connection and so runs its OnClose
// hook, on a worker when there is such a hook (pc is parked meanwhile,
// and resumed after, to read the peer's close answer); at once otherwise,
// or when pc is parked already (a worker runs this).
func (pc *pconn) offPoller(end func()) {
	if !pc.p.srv.closeHookRuns() || pc.state.Load()&stParked != 0 {
		end()
		return
	}
	if !pc.park() {
		return
	}
	pc.p.srv.workers.Go(func() {
		end()
		pc.resume()
	})
}

// feedOffPoller handles bytes that came with a connection before the
// poller sees it, on the calling goroutine.
func (pc *pconn) feedOffPoller(b []byte) {
	pc.sess.Buffer(b)
	pc.handle()
}
