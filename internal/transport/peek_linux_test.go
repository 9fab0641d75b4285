package transport

import (
	"net"

	"golang.org/x/sys/unix"
)

// readable reports whether c has bytes (or its end) to read right now.
func readable(c *net.TCPConn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return true
	}
	ok := true
	_ = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		ok = err != unix.EAGAIN
		return true
	})
	return ok
}
