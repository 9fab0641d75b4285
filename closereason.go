// This file owns the classification of why a connection closed, for
// metrics and logs: CloseReason and the reasons it returns.

package wsrpc

import (
	"errors"

	"github.com/gobwas/ws"

	"github.com/wsrpc/wsrpc-go/internal/wsio"
)

// Sentinel errors of the engine's own closes. Match them with errors.Is on
// Conn.Err or the error the OnClose hook gets.
var (
	// ErrKeepaliveTimeout is why a connection closed when its peer left a
	// keepalive ping unanswered, or answered later than ClientTimeout.
	ErrKeepaliveTimeout = errors.New("wsrpc: keepalive")
	// ErrIdleTimeout is why a connection closed after IdleTimeout without a
	// call or event from its peer.
	ErrIdleTimeout = errors.New("wsrpc: idle timeout")
)

// The reasons CloseReason returns: a small fixed set, fit for a metric
// label.
const (
	ReasonNormal           = "normal"            // a clean close, by either side (1000, or none sent)
	ReasonGoingAway        = "going_away"        // the peer left with 1001 (a browser tab closed, a server restarting)
	ReasonProtocolError    = "protocol_error"    // broken WebSocket framing or invalid UTF-8 (1002, 1007)
	ReasonTooBig           = "too_big"           // a message over the size limit (1009)
	ReasonSendQueueFull    = "send_queue_full"   // the peer did not read (ErrSendQueueFull)
	ReasonKeepaliveTimeout = "keepalive_timeout" // ErrKeepaliveTimeout
	ReasonIdleTimeout      = "idle_timeout"      // ErrIdleTimeout
	ReasonError            = "error"             // anything else: a broken stream, a write that failed
)

// CloseReason classifies why c closed: err is what the OnClose hook got (or
// Conn.Err). c may be nil; with it, a clean close that the peer started
// with 1001 reads as ReasonGoingAway (OnClose gets nil for it).
func CloseReason(c *Conn, err error) string {
	var ce *wsio.CloseError
	switch {
	case err == nil || err == ErrClosed:
		if c != nil && c.PeerCloseCode() == int(ws.StatusGoingAway) {
			return ReasonGoingAway
		}
		return ReasonNormal
	case errors.Is(err, ErrSendQueueFull):
		return ReasonSendQueueFull
	case errors.Is(err, ErrKeepaliveTimeout):
		return ReasonKeepaliveTimeout
	case errors.Is(err, ErrIdleTimeout):
		return ReasonIdleTimeout
	case errors.As(err, &ce):
		switch ce.Code {
		case ws.StatusNormalClosure, ws.StatusNoStatusRcvd:
			return ReasonNormal
		case ws.StatusGoingAway:
			return ReasonGoingAway
		case ws.StatusProtocolError, ws.StatusInvalidFramePayloadData:
			return ReasonProtocolError
		case ws.StatusMessageTooBig:
			return ReasonTooBig
		}
	}
	return ReasonError
}

// PeerCloseCode returns the close code the peer sent, or 0 when it sent
// none (yet), or the transport does not say (a Transport reports it with
// a PeerCloseCode() int method, as the server's and the client's do).
func (c *Conn) PeerCloseCode() int {
	if t, ok := c.t.(interface{ PeerCloseCode() int }); ok {
		return t.PeerCloseCode()
	}
	return 0
}
