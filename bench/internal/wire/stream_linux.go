package wire

import (
	"errors"
	"io"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// Read makes one read and returns the bytes to parse: b is the loop's
// buffer, or the stream's own when a frame was left incomplete. nil, nil
// means nothing was ready. Call Keep with what the parse did not use.
func (s *Stream) Read(shared []byte) ([]byte, error) {
	into := shared
	if len(s.rest) > 0 {
		if cap(s.rest)-len(s.rest) < 4096 {
			s.rest = append(s.rest, make([]byte, max(4096, len(s.rest)))...)[:len(s.rest)]
		}
		into = s.rest[len(s.rest):cap(s.rest)]
	}
	n, err := unix.Read(s.FD, into)
	if err == unix.EAGAIN || err == unix.EINTR {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, io.EOF
	}
	if len(s.rest) > 0 {
		return s.rest[:len(s.rest)+n], nil
	}
	return into[:n], nil
}

// WriteAll writes b to the non-blocking descriptor fd, waiting for room
// when the socket's buffer is full.
func WriteAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if n > 0 {
			b = b[n:]
			continue
		}
		if err != unix.EAGAIN && err != unix.EINTR {
			return err
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		if _, err := unix.Poll(pfd, 10_000); err != nil && err != unix.EINTR {
			return err
		}
	}
	return nil
}

// DupFD returns a duplicate of a TCP connection's descriptor, which shares
// its non-blocking mode; the caller closes nc and owns the duplicate.
func DupFD(nc net.Conn) (int, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1, errors.New("wire: not a socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd, derr := -1, error(nil)
	if err := rc.Control(func(f uintptr) { fd, derr = unix.FcntlInt(f, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	return fd, derr
}
