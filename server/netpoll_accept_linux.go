//go:build linux

// The netpoll engine's accept path: the connections waiting in a TCP
// listener's backlog, accepted straight from its descriptor.

package server

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// rawListener is ln's descriptor, for acceptPending, when the netpoll
// engine serves ln's connections; else nil.
func (s *Server) rawListener(ln net.Listener) syscall.RawConn {
	tl, ok := ln.(*net.TCPListener)
	if !ok || s.engineName() != EngineNetpoll {
		return nil
	}
	return s.netpollRaw(tl)
}

// netpollRaw returns the descriptor of sc once the netpoll engine runs, or
// nil when either fails.
func (s *Server) netpollRaw(sc syscall.Conn) syscall.RawConn {
	if _, err := s.netpollEngine(); err != nil {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// acceptPending serves the connections waiting in the backlog of the
// listener rc is the descriptor of, as bare descriptors: accept4 on it,
// with no net.Conn, no runtime poller entry and no address objects made
// for them (the garbage that Accept leaves behind each connection is most
// of what setting one up churns). It returns once none waits, or accept4
// failed (the listener's Accept then reports the failure and waits for the
// next connection: closing the listener wakes it).
func (s *Server) acceptPending(rc syscall.RawConn) {
	_ = rc.Control(func(lfd uintptr) {
		for !s.isClosing() {
			r, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, lfd, 0, 0, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
			switch errno {
			case 0:
				s.netpollTake(int(r))
			case unix.EINTR, unix.ECONNABORTED:
			default:
				return
			}
		}
	})
}

// netpollTake serves the socket fd, just accepted from a TCP listener, set
// up as net's Accept sets a connection up (TCP_NODELAY, TCP keepalive at
// net's defaults); it owns fd.
func (s *Server) netpollTake(fd int) {
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, tcpKeepAliveSeconds)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, tcpKeepAliveSeconds)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT, tcpKeepAliveProbes)
	s.netpollServeFD(fd)
}

// net's defaults for the TCP keepalive of accepted connections: probes
// after 15 s idle, every 15 s, 9 of them.
const (
	tcpKeepAliveSeconds = 15
	tcpKeepAliveProbes  = 9
)
