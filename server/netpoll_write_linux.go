//go:build linux

// The netpoll engine's write path: writes with their deadline, pongs
// (the shared transport.Pongs policy), and the close handshake.

package server

import (
	"net"
	"os"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/wsrpc/wsrpc-go/internal/transport"
)

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
