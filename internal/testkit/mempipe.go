package testkit

import (
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// MemPipe returns the two ends of an in-memory connection that behaves as
// a socket does, not as net.Pipe: writes never wait for the reader (each
// direction buffers without bound, as a test's peers read everything),
// reads honour deadlines, and Close ends the reads of both ends. It holds
// no file descriptor, so a test can hold more connections than the
// process may open files.
func MemPipe() (client, server net.Conn) {
	ab, ba := newMemBuffer(), newMemBuffer()
	return &memConn{in: ba, out: ab, local: memAddr("client"), remote: memAddr("server")},
		&memConn{in: ab, out: ba, local: memAddr("server"), remote: memAddr("client")}
}

// memBuffer is one direction of a MemPipe.
type memBuffer struct {
	ready chan struct{} // signalled when data arrived or the pipe closed

	mu       sync.Mutex // guards the fields below
	data     []byte
	closed   bool
	deadline time.Time // the reader's
}

func newMemBuffer() *memBuffer { return &memBuffer{ready: make(chan struct{}, 1)} }

func (b *memBuffer) signal() {
	select {
	case b.ready <- struct{}{}:
	default:
	}
}

func (b *memBuffer) write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, net.ErrClosed
	}
	b.data = append(b.data, p...)
	b.signal()
	return len(p), nil
}

func (b *memBuffer) read(p []byte) (int, error) {
	for {
		b.mu.Lock()
		if len(b.data) > 0 {
			n := copy(p, b.data)
			b.data = b.data[n:]
			if len(b.data) == 0 {
				b.data = nil // let the buffer go while idle
			}
			b.mu.Unlock()
			return n, nil
		}
		closed, deadline := b.closed, b.deadline
		b.mu.Unlock()
		if closed {
			return 0, io.EOF
		}
		if deadline.IsZero() {
			<-b.ready
			continue
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return 0, os.ErrDeadlineExceeded
		}
		t := time.NewTimer(wait) // stopped each time round: a long read leaves none behind
		select {
		case <-b.ready:
		case <-t.C:
		}
		t.Stop()
	}
}

func (b *memBuffer) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.signal()
}

func (b *memBuffer) setDeadline(t time.Time) {
	b.mu.Lock()
	b.deadline = t
	b.mu.Unlock()
	b.signal() // a waiting reader looks at the new deadline
}

// memConn is one end of a MemPipe.
type memConn struct {
	in, out       *memBuffer
	local, remote net.Addr
}

func (c *memConn) Read(p []byte) (int, error)  { return c.in.read(p) }
func (c *memConn) Write(p []byte) (int, error) { return c.out.write(p) }
func (c *memConn) Close() error {
	c.in.close()
	c.out.close()
	return nil
}
func (c *memConn) LocalAddr() net.Addr  { return c.local }
func (c *memConn) RemoteAddr() net.Addr { return c.remote }
func (c *memConn) SetDeadline(t time.Time) error {
	c.in.setDeadline(t)
	return nil
}
func (c *memConn) SetReadDeadline(t time.Time) error { c.in.setDeadline(t); return nil }

// SetWriteDeadline does nothing: writes never wait.
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

// memAddr names an end of a MemPipe.
type memAddr string

func (a memAddr) Network() string { return "mem" }
func (a memAddr) String() string  { return string(a) }
