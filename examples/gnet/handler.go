package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/wsrpc/wsrpc-go/server"
	"github.com/wsrpc/wsrpc-go/session"
)

// handler is the gnet event handler: it upgrades each connection with
// server.Upgrade and then feeds what arrives to its session.
type handler struct {
	gnet.BuiltinEventEngine
	srv     *server.Server
	log     *slog.Logger
	eng     gnet.Engine
	booted  chan struct{}
	timeout time.Duration // for the upgrade request
}

func newHandler(srv *server.Server, log *slog.Logger) *handler {
	return &handler{srv: srv, log: log, booted: make(chan struct{}), timeout: server.DefaultHandshakeTimeout}
}

// OnBoot keeps the engine, to stop it.
func (h *handler) OnBoot(eng gnet.Engine) gnet.Action {
	h.eng = eng
	close(h.booted)
	h.log.Info("wsrpc gnet example listening")
	return gnet.None
}

// stop stops the event loops.
func (h *handler) stop(ctx context.Context) error {
	select {
	case <-h.booted:
	default:
		return nil
	}
	return h.eng.Stop(ctx)
}

// conn is the state of one connection: its head until the upgrade, then
// its session. Only the connection's event loop touches head and sess.
type conn struct {
	host *host
	head []byte
	sess *session.Session
	// expire drops a client that does not send its upgrade request within
	// the handshake timeout: a runtime timer, which takes a goroutine only
	// for the moment it fires.
	expire *time.Timer
}

// OnOpen starts the connection's handshake.
func (h *handler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	st := &conn{host: &host{c: c}}
	st.expire = time.AfterFunc(h.timeout, func() { _ = c.Close() })
	c.SetContext(st)
	return nil, gnet.None
}

// OnTraffic feeds what arrived: to Upgrade until the head is whole, to the
// session after. Both run here, on the loop: the introduction's routes
// need no Authorize, and handlers run on the server's workers anyway.
func (h *handler) OnTraffic(c gnet.Conn) gnet.Action {
	st := c.Context().(*conn)
	buf, _ := c.Next(-1) // valid until the next read: Feed copies what it keeps
	if st.sess != nil {
		// An error means the session ended: it has dropped the connection
		// (through host.Drop), or will once the close handshake is over.
		_ = st.sess.Feed(buf)
		return gnet.None
	}
	st.head = append(st.head, buf...)
	sess, n, err := h.srv.Upgrade(st.host, st.head, c.RemoteAddr())
	switch {
	case errors.Is(err, server.ErrIncompleteHead):
		return gnet.None
	case err != nil:
		// The HTTP refusal is queued (AsyncWrite); Close, queued after it,
		// sends it before closing.
		st.expire.Stop()
		st.head = nil
		_ = c.Close()
		return gnet.None
	}
	st.expire.Stop()
	st.sess = sess
	rest := st.head[n:]
	st.head = nil
	if len(rest) > 0 {
		_ = sess.Feed(rest) // frames sent with the request
	}
	return gnet.None
}

// OnClose ends the session: the socket is gone.
func (h *handler) OnClose(c gnet.Conn, err error) gnet.Action {
	st, _ := c.Context().(*conn)
	if st == nil {
		return gnet.None
	}
	st.host.closed.Store(true)
	st.expire.Stop()
	if st.sess != nil {
		if err == nil {
			err = io.EOF
		}
		st.sess.End(err)
	}
	return gnet.None
}

// maxQueued bounds what a connection may have waiting in gnet for a client
// that does not read: past it, writes fail and the session closes the
// connection, as a write timeout would with a blocking socket.
const maxQueued = 4 << 20

// host is a gnet connection as its session's Host.
//
// Handlers run on the server's workers, and their replies (like pongs and
// the close frame) reach Write from those goroutines: gnet's Conn.Write is
// for the loop only, so every write goes through AsyncWrite, which is safe
// from any goroutine and queues the bytes for the connection's loop (in
// order: each write is a task of the loop's queue). AsyncWrite keeps the
// slice it is given until the loop wrote it, and the session's buffer is
// only valid during Write: hence the copy. Drop is Close, which is also
// safe from any goroutine and runs on the loop after the writes queued
// before it, sending them first.
type host struct {
	c      gnet.Conn
	closed atomic.Bool
	// What is not yet in the socket: bytes handed to AsyncWrite on their
	// way to the loop, and gnet's outbound buffer as the loop last saw it.
	inflight, outbound atomic.Int64
}

var errSlowClient = errors.New("the client does not read: more than 4 MiB are waiting for it")

// Write queues b for the loop.
func (hs *host) Write(b []byte) (int, error) {
	if hs.closed.Load() {
		return 0, net.ErrClosed
	}
	if hs.inflight.Load()+hs.outbound.Load() > maxQueued {
		return 0, errSlowClient
	}
	n := int64(len(b))
	hs.inflight.Add(n)
	err := hs.c.AsyncWrite(append([]byte(nil), b...), func(c gnet.Conn, err error) error {
		// On the loop, where OutboundBuffered may be read.
		hs.inflight.Add(-n)
		if err == nil {
			hs.outbound.Store(int64(c.OutboundBuffered()))
		}
		return nil
	})
	if err != nil {
		hs.inflight.Add(-n)
		return 0, fmt.Errorf("gnet: %w", err)
	}
	return len(b), nil
}

// WriteNeverBlocks tells Upgrade that writes queue (session.QueueingHost):
// the session then writes inline replies and pongs from the loop itself.
func (hs *host) WriteNeverBlocks() bool { return true }

// Drop closes the connection (after what was queued before it).
func (hs *host) Drop() { _ = hs.c.Close() }
