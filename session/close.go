package session

// The write side and the end of a session: frames out through the Host,
// the close handshake, and which close code answers which cause.

import (
	"errors"
	"io"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsrpc/wsrpc-go/internal/crash"
	"github.com/wsrpc/wsrpc-go/internal/wsio"
)

// WriteMessages implements wsrpc.Transport: each message becomes one text
// frame (compressed past the threshold when permessage-deflate was
// negotiated), all in one Host.Write.
func (s *Session) WriteMessages(msgs [][]byte) error {
	if s.has(stDeflate) {
		c := wsio.Compression{Threshold: s.cfg.CompressionThreshold, Level: s.cfg.CompressionLevel}
		return s.w.WriteTexts(s.host, &c, msgs)
	}
	return s.w.WriteTexts(s.host, nil, msgs)
}

// Close implements wsrpc.Transport: it sends a close frame (echoing the
// peer's code when the peer closed first, RFC 6455 §5.5.1) and drops the
// connection once the peer answered, at once when the read side has ended
// already, or after CloseTimeout. It runs once; later calls do nothing.
func (s *Session) Close(code int, reason string) error {
	if !s.setState(stCloseSent) {
		return nil
	}
	code, reason = echoPeer(s.peerCode(), code, reason)
	if ch, ok := s.host.(ClosingHost); ok {
		ch.Closing()
	}
	_ = s.w.WriteClose(s.host, ws.StatusCode(code), reason)
	if s.has(stPeerClosed | stReadEnded) {
		s.drop()
		return nil
	}
	// Wait for the peer's close frame (End drops then), but not forever.
	time.AfterFunc(CloseTimeout, s.drop)
	return nil
}

// echoPeer returns the close code and reason to send: the peer's code when
// the peer closed first (1000 when its frame had no code), else this
// side's own.
func echoPeer(peer int32, code int, reason string) (int, string) {
	switch {
	case peer == int32(ws.StatusNoStatusRcvd):
		return int(ws.StatusNormalClosure), ""
	case peer != 0:
		return int(peer), ""
	}
	return code, reason
}

// End ends the read side for cause, the reason reading stopped, and tells
// the Conn, then drops the connection (after the close frame):
//
//   - the peer's close frame (a remote *CloseError): its code is echoed,
//     and the Conn's error is nil for 1000, 1001 and 1005, the frame else;
//   - a protocol violation (another *CloseError): the connection is closed
//     with its code (1002, 1007, 1009);
//   - a panic (matching wsrpc.ErrReadPanic): closed with 1011;
//   - anything else (io.EOF, a read error: the stream ended) is the Conn's
//     cause as it is; io.EOF in the middle of a frame is
//     io.ErrUnexpectedEOF.
//
// Call it once reading stopped for good: with Handle's error, or when the
// socket closed. It runs once; later calls do nothing. The Conn's OnClose
// hook runs on the calling goroutine.
func (s *Session) End(cause error) {
	if !s.setState(stReadEnded) {
		return
	}
	if p := s.parser; p != nil {
		if errors.Is(cause, io.EOF) && p.Buffered() > 0 {
			cause = io.ErrUnexpectedEOF
		}
		s.parser = nil // may refer to the caller's bytes: not reused
	}
	c := s.conn
	var ce *CloseError
	switch {
	case c == nil:
	case errors.As(cause, &ce) && ce.Remote:
		s.state.Or(uint32(uint16(ce.Code))<<stCodeShift | stPeerClosed)
		if ce.Code == ws.StatusNormalClosure || ce.Code == ws.StatusNoStatusRcvd || ce.Code == ws.StatusGoingAway {
			cause = nil
		}
		c.HandleClose(cause)
	case errors.As(cause, &ce):
		_ = c.CloseWithError(int(ce.Code), ce.Reason, cause)
	case crash.IsPanic(cause):
		_ = c.CloseWithError(crash.Code, crash.Reason, cause)
	default:
		c.HandleClose(cause)
	}
	s.drop()
}

// drop asks the host to drop the connection, once.
func (s *Session) drop() {
	if s.setState(stDropped) {
		s.host.Drop()
	}
}
