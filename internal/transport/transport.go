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

// Defaults shared by the server and the client.
const (
	DefaultWriteTimeout = 10 * time.Second
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

	closeOnce  sync.Once
	readerDone atomic.Bool
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
	return &Stream{nc: nc, r: r, side: side, limits: limits, w: wsio.NewWriter(nc, side), writeTimeout: writeTimeout}
}

// EnableDeflate turns permessage-deflate on, for a connection that
// negotiated it. Call it before Serve.
func (s *Stream) EnableDeflate(c wsio.Compression) {
	s.deflate = true
	s.w.EnableDeflate(c)
}

// NetConn returns the underlying connection.
func (s *Stream) NetConn() net.Conn { return s.nc }

// WriteMessages implements wsrpc.Transport.
func (s *Stream) WriteMessages(msgs [][]byte) error {
	_ = s.nc.SetWriteDeadline(time.Now().Add(s.writeTimeout))
	return s.w.WriteTexts(msgs)
}

// Close implements wsrpc.Transport: it sends a close frame (echoing the
// peer's code when the peer closed first) and drops the TCP connection once
// the peer answered, or after CloseTimeout.
func (s *Stream) Close(code int, reason string) error {
	s.closeOnce.Do(func() {
		code, reason = EchoPeer(s.peerCode.Load(), code, reason)
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

// Serve reads messages until the stream ends and feeds them to c; binary
// messages are ignored, as the reference does. It returns the cause of the
// end and always leaves the TCP connection closed.
func (s *Stream) Serve(c *wsrpc.Conn) error {
	rd := wsio.NewReader(s.r, s.side, s.limits)
	if s.deflate {
		rd.EnableDeflate()
	}
	rd.SetControlHandler(func(p []byte) {
		_ = s.nc.SetWriteDeadline(time.Now().Add(s.writeTimeout))
		_ = s.w.WritePong(p)
	})
	var cause error
	for {
		text, payload, err := rd.ReadMessage()
		if err != nil {
			cause = err
			break
		}
		if text {
			c.HandleMessage(payload)
		}
		if rd.Buffered() == 0 {
			// The end of what one read brought: write the replies inline
			// routes produced meanwhile, together.
			_ = c.Flush(true)
		}
	}
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
	default:
		s.readerDone.Store(true)
		c.HandleClose(cause)
	}
	_ = s.nc.Close()
	return cause
}
