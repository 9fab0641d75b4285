package transport

import (
	"io"
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// readiness returns a function that waits until the connection has bytes
// and reads them into a buffer it borrows from readBufs only then, so that
// an idle connection holds none: it tries the read, and on EAGAIN gives the
// buffer back and waits in the runtime's poller before trying again (one
// system call more than a blocking read, not two). nil when the connection
// is not a plain socket (TLS), or bytes that came with the handshake must
// be read first.
//
// read is nil for a connection that is not a bare *net.TCPConn or
// *net.UnixConn. readable, the second function, only waits until there are bytes (or an
// error), reading none: a big frame under way is read into the session's
// own buffer once they came.
func (s *Stream) readiness() (read func() (*[]byte, int, error), readable func() error) {
	if s.r != s.nc {
		return nil, nil
	}
	sc, ok := s.nc.(syscall.Conn)
	if !ok {
		return nil, nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, nil
	}
	var (
		bp   *[]byte
		n    int
		rerr error
	)
	tryRead := func(fd uintptr) bool {
		if bp == nil {
			bp = readBufs.Get().(*[]byte)
		}
		for {
			n, rerr = unix.Read(int(fd), *bp)
			switch rerr {
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				readBufs.Put(bp)
				bp = nil
				return false
			}
			return true
		}
	}
	var peekByte [1]byte
	hasBytes := func(fd uintptr) bool { return peek(fd, &peekByte[0]) }
	readable = func() error { return rc.Read(hasBytes) }
	switch s.nc.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		// A wrapper may do more in Read than the socket does: it is read
		// through, once bytes arrived.
		return nil, readable
	}
	read = func() (*[]byte, int, error) {
		bp, n, rerr = nil, 0, nil
		if err := rc.Read(tryRead); err != nil {
			if bp != nil {
				readBufs.Put(bp)
			}
			return nil, 0, err
		}
		if n < 0 {
			n = 0
		}
		if rerr == nil && n == 0 {
			rerr = io.EOF
		}
		return bp, n, rerr
	}
	return read, readable
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
