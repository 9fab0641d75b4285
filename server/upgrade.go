package server

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"time"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/session"
)

// ErrIncompleteHead is what Upgrade returns while the upgrade request head
// has not arrived whole: call it again once more bytes came, with all of
// them.
var ErrIncompleteHead = errors.New("wsrpc server: the upgrade request head is incomplete; call Upgrade again with more bytes")

// ErrRefused matches (errors.Is) every error of Upgrade for a request it
// refused: it has written the HTTP response (403, 404, 431, 503...), and
// the program closes the connection once that is out.
var ErrRefused = errors.New("wsrpc server: upgrade refused")

// Upgrade is the handshake for a program that owns its event loop (gnet,
// an epoll loop of its own) and hands bytes to a session.Session instead
// of a net.Conn: buf holds what the client sent so far; h is how the
// program writes to the connection and drops it (see session.Host).
//
// While buf does not hold a whole request head, Upgrade returns
// ErrIncompleteHead. Then the head goes through the server's one admission
// path, the one Serve and ServeConn use (Options.Path, the origin rule,
// MaxConnections, Authorize, Identify, the hooks; see admission.go), and
// the response goes out through h.Write: the 101 and the returned session,
// which serves the server's routes with its options, or an HTTP error and
// an error matching ErrRefused. n is the length of the head: buf[n:] are
// frames the client sent without waiting for the 101, to Feed next.
//
// User code that admission runs (Authorize, Identify, CheckOrigin, the
// hooks) and the OnConnect hook run on the calling goroutine: call Upgrade
// from a worker if they may block. Bounding the time a client takes to
// send its head (Options.HandshakeTimeout) is the program's: it owns the
// timers. The connection counts for Shutdown until the session drops it.
// A host that queues its writes says so with session.QueueingHost.
func (s *Server) Upgrade(h session.Host, buf []byte, remote net.Addr) (sess *session.Session, n int, err error) {
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 && len(buf) <= s.maxHandshake() {
		return nil, 0, ErrIncompleteHead
	}
	if end < 0 || end+4 > s.maxHandshake() {
		return nil, 0, refuseUpgrade(h, errHandshakeTooLarge)
	}
	head := buf[:end+4]
	if !s.track() {
		return nil, 0, refuseUpgrade(h, errShuttingDown)
	}
	uh := &upgradedHost{Host: h, srv: s, remote: remote}
	a, err := s.upgrade(uh, head, time.Now().Add(s.handshakeTimeout()), func(b []byte) error {
		_, err := h.Write(b)
		return err
	})
	if err != nil {
		s.wg.Done()
		return nil, 0, refuseUpgrade(h, err)
	}
	cfg := &s.session
	if qh, ok := h.(session.QueueingHost); ok && qh.WriteNeverBlocks() {
		cfg = &s.queued
	}
	sess = session.New(uh, cfg, a.ext != "")
	uh.conn = s.newConn(sess, nil, head, a.identity)
	sess.Attach(uh.conn)
	s.startConn(uh.conn)
	return sess, len(head), nil
}

// refuseUpgrade writes the response of a refused upgrade through h, and
// returns err matching ErrRefused.
func refuseUpgrade(h session.Host, err error) error {
	var he *httpError
	if errors.As(err, &he) {
		_, _ = h.Write(he.response())
	}
	return fmt.Errorf("%w: %w", ErrRefused, err)
}

// upgradedHost is the program's Host of a session that Upgrade made: its
// Drop also ends the connection for the server (unregistered, no longer
// counted for Shutdown).
type upgradedHost struct {
	session.Host
	srv    *Server
	conn   *wsrpc.Conn
	remote net.Addr
}

// Drop drops the connection, then forgets it.
func (u *upgradedHost) Drop() {
	u.Host.Drop()
	u.srv.remove(u.conn)
	u.srv.wg.Done()
}

// Closing passes the start of the close handshake on to a host that wants
// it (session.ClosingHost).
func (u *upgradedHost) Closing() {
	if ch, ok := u.Host.(session.ClosingHost); ok {
		ch.Closing()
	}
}

// RemoteAddr is the address Upgrade was given.
func (u *upgradedHost) RemoteAddr() net.Addr { return u.remote }

// LocalAddr is the program's Host's, if it has one.
func (u *upgradedHost) LocalAddr() net.Addr {
	if a, ok := u.Host.(interface{ LocalAddr() net.Addr }); ok {
		return a.LocalAddr()
	}
	return nil
}
