//go:build linux

// The netpoll engine's write path: the Host side of the session, writes
// to the socket with their deadline. The session frames what it writes,
// answers pings and runs the close handshake.

package server

import (
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wsrpc/wsrpc-go/session"
)

// writeDeadline is the deadline of a write starting now: the write
// timeout from its own start (so no write, a pong say, extends the deadline
// of another one), or session.CloseTimeout once the close handshake began.
// It is computed per write rather than kept: an idle connection holds no
// deadline.
func (pc *pconn) writeDeadline() time.Time {
	if pc.state.Load()&stClosing != 0 {
		return time.Now().Add(session.CloseTimeout)
	}
	return time.Now().Add(pc.p.srv.opts.WriteTimeout)
}

// Write writes b to the socket (the wsio.Writer's destination, so it runs
// under the writer's lock), bounded by writeDeadline.
func (pc *pconn) Write(b []byte) (int, error) {
	if pc.nc != nil {
		if !pc.acquire() {
			return 0, net.ErrClosed
		}
		defer pc.release()
		_ = pc.nc.SetWriteDeadline(pc.writeDeadline())
		return pc.nc.Write(b)
	}
	return pc.writeFD(b, true)
}

// writeFD writes b to the bare descriptor. When the socket's buffer is
// full it waits for the client (writeBlocking, until writeDeadline) if
// wait is set, and fails with errWouldBlock if not.
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
	_ = nc.SetWriteDeadline(pc.writeDeadline())
	return nc.Write(b)
}

// Closing cuts the writes short once the session began its close
// handshake (session.ClosingHost): each write from then on, the close
// frame's included, takes session.CloseTimeout at most.
func (pc *pconn) Closing() { pc.setState(stClosing) }

// Drop ends the connection once the session is done with it
// (session.Host).
func (pc *pconn) Drop() { pc.shutdown(nil) }
