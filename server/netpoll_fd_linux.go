//go:build linux

// The netpoll engine's descriptor lifetime: uses of a bare socket
// descriptor, its retirement and close, and the addresses read from it.

package server

import (
	"errors"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

const fdRetired = 1 << 30

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

// shutdown removes the connection from epoll and closes it. Idempotent.
func (pc *pconn) shutdown(cause error) {
	if !pc.setState(stClosed) {
		return
	}
	p := pc.p
	p.mu.Lock()
	p.removeLocked(pc)
	delete(p.handshakes, pc) // its timeout, if it has not fired, finds pc closed
	conn := pc.sess.Conn()
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
