package transport

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// readiness returns a function that waits until the connection has bytes
// to read (or has failed) without a read buffer, so that an idle
// connection holds none; nil when the connection is not a plain socket
// (TLS), or bytes that came with the handshake must be read first.
func (s *Stream) readiness() func() error {
	if s.r != s.nc {
		return nil
	}
	sc, ok := s.nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	ready := func(fd uintptr) bool { return peek(fd, &s.peek[0]) }
	return func() error { return rc.Read(ready) }
}

// peek reports whether fd has something for read: bytes, the end of the
// stream or an error. false means nothing yet, and the runtime's poller
// waits for the socket to become readable.
func peek(fd uintptr, b *byte) bool {
	for {
		_, _, errno := unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(b)), 1,
			unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		return true
	}
}
