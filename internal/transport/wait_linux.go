package transport

import (
	"io"
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// readiness sets Serve up to wait until the connection has bytes and to
// read them into a buffer it borrows from readBufs only then, so that an
// idle connection holds none: read tries the read, and on EAGAIN gives the
// buffer back and waits in the runtime's poller before trying again (one
// system call more than a blocking read, not two). false when the
// connection is not a plain socket (TLS), or bytes that came with the
// handshake must be read first: Serve then reads into a buffer of its own.
//
// A connection that is not a bare *net.TCPConn or *net.UnixConn is not read
// with read: readable only waits until there are bytes (or an error), and
// the wrapper's Read reads them. A big frame under way is read into the
// session's own buffer once readable says bytes came.
func (s *Stream) readiness() bool {
	if s.r != s.nc {
		return false
	}
	sc, ok := s.nc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	s.rd.rc = rc
	switch s.nc.(type) {
	case *net.TCPConn, *net.UnixConn:
		s.rd.direct = true
		s.rd.tryRead = s.tryRead
	}
	return true
}

// tryRead reads fd into a buffer borrowed for the read; false (the buffer
// given back) when nothing has arrived yet.
func (s *Stream) tryRead(fd uintptr) bool {
	rd := &s.rd
	if rd.bp == nil {
		rd.bp = readBufs.Get().(*[]byte)
	}
	for {
		rd.n, rd.rerr = unix.Read(int(fd), *rd.bp)
		switch rd.rerr {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			readBufs.Put(rd.bp)
			rd.bp = nil
			return false
		}
		return true
	}
}

// read waits until the socket has bytes and reads them into a borrowed
// buffer, which the caller gives back to readBufs.
func (s *Stream) read() (*[]byte, int, error) {
	rd := &s.rd
	rd.bp, rd.n, rd.rerr = nil, 0, nil
	if err := rd.rc.Read(rd.tryRead); err != nil {
		if rd.bp != nil {
			readBufs.Put(rd.bp)
			rd.bp = nil
		}
		return nil, 0, err
	}
	bp, n, err := rd.bp, max(rd.n, 0), rd.rerr
	rd.bp, rd.rerr = nil, nil
	if err == nil && n == 0 {
		err = io.EOF
	}
	return bp, n, err
}

// readable waits until the socket has something for read, reading none.
func (s *Stream) readable() error { return s.rd.rc.Read(hasBytes) }

// hasBytes is readable's test: a function value without state, so that
// waiting allocates nothing.
func hasBytes(fd uintptr) bool {
	var b byte
	return peek(fd, &b)
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
