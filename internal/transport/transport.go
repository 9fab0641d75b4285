// Package transport is the goroutine glue of a WebSocket stream (a
// net.Conn after the handshake): a reading goroutine that feeds a
// session.Session, the core every engine shares, and writes with
// deadlines. The server's goroutine engine and the client use it.
package transport

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/internal/crash"
	"github.com/wsrpc/wsrpc-go/session"
)

// Defaults of the stream (DefaultWriteTimeout is wsrpc.Options's).
const (
	DefaultWriteTimeout = wsrpc.DefaultWriteTimeout
	// CloseTimeout is how long a side that sent a close frame waits for the
	// peer's close frame before it drops the TCP connection.
	CloseTimeout = session.CloseTimeout
)

// Stream is one WebSocket connection after its handshake: the session's
// Host (writes with deadlines, Drop closes the socket) and the reader
// that feeds it.
type Stream struct {
	nc           net.Conn
	r            io.Reader
	writeTimeout time.Duration
	closing      atomic.Bool // the close frame is being written
	sess         session.Session
	rd           reader // Serve's state: one record per connection with the stream
}

// NewWith wraps nc. r reads from nc (it may be a bufio.Reader holding
// bytes that arrived with the handshake); cfg is the session's settings
// (shared by many streams, as a server's or a client's), and deflate says
// whether the handshake negotiated permessage-deflate.
func NewWith(nc net.Conn, r io.Reader, cfg *session.Config, deflate bool, writeTimeout time.Duration) *Stream {
	if r == nil {
		r = nc
	}
	if writeTimeout <= 0 {
		writeTimeout = DefaultWriteTimeout
	}
	s := &Stream{nc: nc, r: r, writeTimeout: writeTimeout}
	s.sess.Init((*host)(s), cfg, deflate)
	return s
}

// RemoteAddr returns the peer's address.
func (s *Stream) RemoteAddr() net.Addr { return s.nc.RemoteAddr() }

// LocalAddr returns this side's address.
func (s *Stream) LocalAddr() net.Addr { return s.nc.LocalAddr() }

// PeerCloseCode returns the close code the peer sent, 0 before one came
// (wsrpc.Conn.PeerCloseCode reads it).
func (s *Stream) PeerCloseCode() int { return s.sess.PeerCloseCode() }

// NetConn returns the underlying connection.
func (s *Stream) NetConn() net.Conn { return s.nc }

// WriteMessages implements wsrpc.Transport. The write gives up after the
// write timeout.
func (s *Stream) WriteMessages(msgs [][]byte) error { return s.sess.WriteMessages(msgs) }

// Close implements wsrpc.Transport: the session's close handshake.
func (s *Stream) Close(code int, reason string) error { return s.sess.Close(code, reason) }

// host is a Stream as its session's Host.
type host Stream

// Write writes b with the write timeout, or CloseTimeout once Close began.
// Each write sets its own deadline, under the session's write lock, so
// that no write extends the deadline of another one under way.
func (h *host) Write(b []byte) (int, error) {
	s := (*Stream)(h)
	if !s.closing.Load() {
		_ = s.nc.SetWriteDeadline(time.Now().Add(s.writeTimeout))
	}
	if s.closing.Load() {
		// Close may have cut the deadline short just before the line
		// above moved it: cut it again.
		_ = s.nc.SetWriteDeadline(time.Now().Add(CloseTimeout))
	}
	return s.nc.Write(b)
}

// Closing cuts a write under way short: the close frame waits for it (the
// frames must not interleave), at most CloseTimeout.
func (h *host) Closing() {
	h.closing.Store(true)
	_ = h.nc.SetWriteDeadline(time.Now().Add(CloseTimeout))
}

// Drop closes the socket; the reader then ends.
func (h *host) Drop() { _ = h.nc.Close() }

// RemoteAddr and LocalAddr are the socket's.
func (h *host) RemoteAddr() net.Addr { return h.nc.RemoteAddr() }
func (h *host) LocalAddr() net.Addr  { return h.nc.LocalAddr() }

// readSize is the read buffer of a connection: big frames are read
// straight into the session instead.
const readSize = 4096

// ownSize is the read buffer of a connection that cannot wait for
// readiness (TLS): it holds one while idle, so a small one.
const ownSize = 512

// readBufs lends read buffers to connections between waiting and handling,
// so that an idle connection holds none (where readiness is available).
// readBufsMade counts the buffers it made (TestIdleSocketHoldsNoReadBuffer
// reads it).
var (
	readBufsMade atomic.Int64
	readBufs     = sync.Pool{New: func() any {
		readBufsMade.Add(1)
		b := make([]byte, readSize)
		return &b
	}}
)

// Serve reads until the stream ends and feeds the session, which hands the
// messages to c (attached here); binary messages are ignored, as the
// reference does. It returns the cause of the end and always leaves the TCP
// connection closed.
//
// The calling goroutine only waits and reads. What each read brought is
// handled on one of pool's goroutines (inline routes run there, and their
// replies leave in one write) while this one waits: its stack stays at the
// minimum, and that stack is most of what an idle connection costs. Where
// the socket can be watched for readiness, the read buffer is borrowed
// only once bytes have arrived, so an idle connection holds none.
func (s *Stream) Serve(c *wsrpc.Conn, pool *wsrpc.WorkerPool) error {
	s.sess.Attach(c)
	if !s.readiness() {
		s.rd.own = new([ownSize]byte)
	}
	s.rd.task = wsrpc.NewTask(s.step)
	cause := s.loop(pool)
	s.sess.End(cause)
	_ = s.nc.Close()
	return cause
}

// reader is the state of Serve, kept off the reading goroutine's stack and
// inside the Stream, so that a connection is one record however it reads.
type reader struct {
	rc      syscall.RawConn       // waits for bytes (see readiness); nil: read into own
	direct  bool                  // rc's socket is read with tryRead, into a borrowed buffer
	tryRead func(fd uintptr) bool // Stream.tryRead, made once
	bp      *[]byte               // tryRead's borrowed buffer, bytes read and error
	n       int
	rerr    error
	own     *[ownSize]byte // the read buffer of a connection without readiness
	perr    error          // the session's error, final
	task    *wsrpc.Task
}

// step handles what the session holds (on a pool goroutine) and writes the
// replies inline routes produced meanwhile, together.
func (s *Stream) step() {
	defer func() {
		if v := recover(); v != nil {
			s.rd.perr = crash.Recovered(s.sess.Conn(), nil, v)
		}
	}()
	sess := &s.sess
	if _, err := sess.Handle(0); err != nil {
		s.rd.perr = err
		return
	}
	sess.Release(true)
}

// loop reads until the stream ends or breaks the protocol.
func (s *Stream) loop(pool *wsrpc.WorkerPool) (cause error) {
	defer func() {
		if v := recover(); v != nil {
			cause = crash.Recovered(s.sess.Conn(), nil, v)
		}
	}()
	rd, sess := &s.rd, &s.sess
	for {
		var err error
		if want := sess.Need(); want > readSize {
			// A big frame is under way: read it straight into the session,
			// once bytes arrived (the buffer grows with them).
			if rd.rc != nil {
				err = s.readable()
			}
			if err == nil {
				err = sess.ReadSome(s.r, want)
			}
			if sess.Ready() {
				pool.Run(rd.task)
			}
		} else {
			var (
				bp *[]byte
				n  int
			)
			switch {
			case rd.direct:
				bp, n, err = s.read()
			case rd.rc != nil:
				if err = s.readable(); err == nil {
					bp = readBufs.Get().(*[]byte)
					n, err = s.r.Read(*bp)
				}
			default:
				n, err = s.r.Read(rd.own[:])
			}
			if n > 0 {
				if bp != nil {
					sess.Buffer((*bp)[:n]) // parsed in place, in step
				} else {
					sess.Buffer(rd.own[:n])
				}
			}
			// Only a complete frame is worth a hand-off to the pool; a
			// partial one waits in the session for the next read.
			if sess.Ready() {
				pool.Run(rd.task)
			}
			sess.Detach() // the session keeps a copy of what it still needs of buf
			if bp != nil {
				readBufs.Put(bp)
			}
		}
		if rd.perr != nil {
			return rd.perr
		}
		if err != nil {
			return err
		}
	}
}
