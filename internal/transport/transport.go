// Package transport adapts a WebSocket stream (a net.Conn after the
// handshake) to the wsrpc engine: a read loop that feeds whole messages to a
// wsrpc.Conn, and a wsrpc.Transport that writes batches of text messages.
// The server's goroutine engine and the client share it.
package transport

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/internal/wsio"
)

// Defaults of the stream (DefaultWriteTimeout is wsrpc.Options's).
const (
	DefaultWriteTimeout = wsrpc.DefaultWriteTimeout
	// CloseTimeout is how long a side that sent a close frame waits for the
	// peer's close frame before it drops the TCP connection.
	CloseTimeout = 2 * time.Second
)

// Stream is one WebSocket connection after its handshake.
type Stream struct {
	nc           net.Conn
	r            io.Reader
	side         wsio.Side
	limits       wsio.Limits
	deflate      bool
	w            *wsio.Writer
	writeTimeout time.Duration

	peek [1]byte // for readiness checks (the reader's)

	closeOnce  sync.Once
	readerDone atomic.Bool
	closing    atomic.Bool  // the close frame is being written
	peerCode   atomic.Int32 // close code the peer sent, 0 if none
}

// New wraps nc. r reads from nc (it may be a bufio.Reader holding bytes that
// arrived with the handshake).
func New(nc net.Conn, r io.Reader, side wsio.Side, limits wsio.Limits, writeTimeout time.Duration) *Stream {
	if r == nil {
		r = nc
	}
	if writeTimeout <= 0 {
		writeTimeout = DefaultWriteTimeout
	}
	s := &Stream{nc: nc, r: r, side: side, limits: limits, writeTimeout: writeTimeout}
	s.w = wsio.NewWriter((*timedWriter)(s), side)
	return s
}

// EnableDeflate turns permessage-deflate on, for a connection that
// negotiated it. Call it before Serve.
func (s *Stream) EnableDeflate(c wsio.Compression) {
	s.deflate = true
	s.w.EnableDeflate(c)
}

// RemoteAddr returns the peer's address.
func (s *Stream) RemoteAddr() net.Addr { return s.nc.RemoteAddr() }

// LocalAddr returns this side's address.
func (s *Stream) LocalAddr() net.Addr { return s.nc.LocalAddr() }

// NetConn returns the underlying connection.
func (s *Stream) NetConn() net.Conn { return s.nc }

// WriteMessages implements wsrpc.Transport. The write gives up after the
// write timeout.
func (s *Stream) WriteMessages(msgs [][]byte) error {
	return s.w.WriteTexts(msgs)
}

// Close implements wsrpc.Transport: it sends a close frame (echoing the
// peer's code when the peer closed first) and drops the TCP connection once
// the peer answered, or after CloseTimeout.
func (s *Stream) Close(code int, reason string) error {
	s.closeOnce.Do(func() {
		code, reason = EchoPeer(s.peerCode.Load(), code, reason)
		// Closing cuts a write under way short too: the close frame waits
		// for it (the frames must not interleave), at most CloseTimeout.
		s.closing.Store(true)
		_ = s.nc.SetWriteDeadline(time.Now().Add(CloseTimeout))
		_ = s.w.WriteClose(ws.StatusCode(code), reason)
		if s.readerDone.Load() {
			_ = s.nc.Close()
		} else {
			_ = s.nc.SetReadDeadline(time.Now().Add(CloseTimeout))
		}
	})
	return nil
}

// EchoPeer returns the close code and reason to send: the peer's code when
// the peer closed first (RFC 6455 §5.5.1; 1000 when its frame had no code),
// else this side's own.
func EchoPeer(peer int32, code int, reason string) (int, string) {
	switch {
	case peer == int32(ws.StatusNoStatusRcvd):
		return int(ws.StatusNormalClosure), ""
	case peer != 0:
		return int(peer), ""
	}
	return code, reason
}

// readSize is the read buffer of a connection: big frames are read
// straight into the parser instead.
const readSize = 4096

// readBufs lends read buffers to connections between waiting and handling,
// so that an idle connection holds none (where readiness is available).
var readBufs = sync.Pool{New: func() any { b := make([]byte, readSize); return &b }}

// Serve reads messages until the stream ends and feeds them to c; binary
// messages are ignored, as the reference does. It returns the cause of the
// end and always leaves the TCP connection closed.
//
// The calling goroutine only waits and reads. What each read brought is
// parsed and handled on one of pool's goroutines (inline routes run there,
// and their replies leave in one write) while this one waits: its stack
// stays at the minimum, and that stack is most of what an idle connection
// costs. Where the socket can be watched for readiness, the read buffer is
// borrowed only once bytes have arrived, so an idle connection holds none.
func (s *Stream) Serve(c *wsrpc.Conn, pool *wsrpc.WorkerPool) error {
	rd := s.newReader(c)
	return s.finish(c, rd.loop(pool))
}

// reader is the state of Serve, kept off the reading goroutine's stack.
type reader struct {
	s     *Stream
	c     *wsrpc.Conn
	p     *wsio.Parser
	wait  func() error // waits for readability; nil: read into own
	own   []byte
	perr  error // the parser's error, final
	task  *wsrpc.Task
	pongs *Pongs // made on the first ping
}

func (s *Stream) newReader(c *wsrpc.Conn) *reader {
	rd := &reader{s: s, c: c, p: wsio.NewParser(s.side, s.limits)}
	if s.deflate {
		rd.p.EnableDeflate()
	}
	rd.p.SetPingHandler(rd)
	if rd.wait = s.readiness(); rd.wait == nil {
		rd.own = make([]byte, 512)
	}
	rd.task = wsrpc.NewTask(rd.step)
	return rd
}

// step parses and handles what the parser holds (on a pool goroutine).
func (rd *reader) step() {
	defer rd.recoverStep()
	p := rd.p
	for {
		text, payload, ok, err := p.Next()
		if err != nil {
			rd.perr = err
			break
		}
		if !ok {
			break
		}
		if text {
			rd.c.HandleMessage(payload)
		}
	}
	p.Detach()
	// The end of what one read brought: write the replies inline routes
	// produced meanwhile, together.
	_ = rd.c.Flush(true)
}

// loop reads until the stream ends or breaks the protocol.
func (rd *reader) loop(pool *wsrpc.WorkerPool) (cause error) {
	defer func() {
		if v := recover(); v != nil {
			cause = Recovered(rd.c, nil, v)
		}
	}()
	for {
		var err error
		if want := rd.p.Need(); want > readSize {
			// A big frame is under way: read it straight into the parser,
			// once bytes arrived (the buffer grows with them).
			if rd.wait != nil {
				err = rd.wait()
			}
			if err == nil {
				err = rd.p.ReadSome(rd.s.r, want)
			}
			if rd.p.Ready() {
				pool.Run(rd.task)
			}
		} else {
			buf := rd.own
			var bp *[]byte
			if rd.wait != nil {
				err = rd.wait()
				bp = readBufs.Get().(*[]byte)
				buf = *bp
			}
			if err == nil {
				var n int
				if n, err = rd.s.r.Read(buf); n > 0 {
					rd.p.Feed(buf[:n]) // parsed in place, in step
				}
			}
			// Only a complete frame is worth a hand-off to the pool; a
			// partial one waits in the parser for the next read.
			if rd.p.Ready() {
				pool.Run(rd.task)
			}
			rd.p.Detach() // the parser keeps a copy of what it still needs of buf
			if bp != nil {
				readBufs.Put(bp)
			}
		}
		if rd.perr != nil {
			return rd.perr
		}
		if err != nil {
			if errors.Is(err, io.EOF) && rd.p.Buffered() > 0 {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
}

// finish reports the end of the stream to c and closes the connection.
func (s *Stream) finish(c *wsrpc.Conn, cause error) error {
	var ce *wsio.CloseError
	switch {
	case errors.As(cause, &ce) && ce.Remote:
		s.peerCode.Store(int32(ce.Code))
		if ce.Code == ws.StatusNormalClosure || ce.Code == ws.StatusNoStatusRcvd || ce.Code == ws.StatusGoingAway {
			cause = nil
		}
		s.readerDone.Store(true)
		c.HandleClose(cause)
	case errors.As(cause, &ce):
		// The peer broke the protocol: answer with the code the reader chose.
		s.readerDone.Store(true)
		c.CloseWithError(int(ce.Code), ce.Reason, cause)
	case isPanic(cause):
		s.readerDone.Store(true)
		c.CloseWithError(PanicCode, PanicReason, cause)
	default:
		s.readerDone.Store(true)
		c.HandleClose(cause)
	}
	_ = s.nc.Close()
	return cause
}
