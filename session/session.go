// Package session is the WebSocket session core of wsrpc: everything
// between the bytes of an upgraded connection and a wsrpc.Conn. It parses
// what arrives (in any split, a byte at a time included), hands each whole
// text message to the Conn, answers pings (RFC 6455 §5.5.3), frames what
// the Conn writes, classifies why a connection ends (the close code for
// each cause: 1002, 1007, 1008, 1009, 1011) and runs the close handshake.
//
// It is the embedding API for programs that own their event loop (gnet,
// an epoll loop of your own): a Session has no goroutine and does no I/O
// of its own. The program feeds it the bytes that arrived after the
// upgrade and gives it a Host, through which it writes framed bytes and
// asks for the connection to be dropped. The server's two engines (the
// goroutine one and netpoll) and the client run on this same type, so a
// program that embeds it gets exactly their behaviour. server.Upgrade
// gives a program that read an upgrade request head the response and a
// Session, through the server's one admission path; examples/gnet is a
// whole program.
//
//	sess, n, err := srv.Upgrade(host, head, remote) // writes the 101 through host
//	...
//	err = sess.Feed(bytes) // on each read; an error means the session ended
//	sess.End(io.EOF)       // when the socket closed
//
// # Who calls what
//
// The read side (Feed, or the steps it is made of: Buffer, Handle,
// Release, Detach, Ready, Need, ReadSome; and End) is one goroutine at a
// time: the program's event loop, say. It may move to another goroutine
// (a worker) when the program hands it over with a happens-before edge (a
// channel, a mutex).
//
// The write side runs wherever the connection writes: handlers run on the
// Conn's workers and their replies reach Host.Write from those goroutines,
// as do pongs, the close frame, and keepalive calls. Every Host.Write call
// is made under the session's write lock, one at a time, each with whole
// frames. Host.Drop is called exactly once, from whichever of these
// goroutines ends the connection, or from the close handshake's timer.
//
// Panics of the read side are recovered by Feed: the connection closes
// with 1011 and the error matches wsrpc.ErrReadPanic.
package session

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/internal/wsio"
)

// Host is the connection a Session runs on, as the program that owns it
// sees it.
type Host interface {
	// Write writes framed bytes to the peer. b is only valid during the
	// call. It is called from any goroutine (see the package doc), one call
	// at a time; it may block, bounded by a write deadline of the host's
	// (a write that fails closes the connection), unless Config says
	// writes never block. Event loops queue b (gnet's AsyncWrite copies
	// it) and return.
	Write(b []byte) (int, error)
	// Drop ends the connection: close the socket. It is called once, when
	// the close handshake is over (or CloseTimeout passed without the
	// peer's answer), or right after the session failed the connection
	// (a protocol error, a panic, the end of the stream). Nothing is
	// written after it.
	Drop()
}

// ClosingHost is a Host that wants to know when the close handshake
// begins: Closing is called once, before the close frame is written, so
// that a host with write deadlines can cut a write under way short (the
// close frame waits for it) to CloseTimeout.
type ClosingHost interface {
	Host
	Closing()
}

// QueueingHost is a Host that says whether its Write never blocks: it
// queues the bytes for the program's loop and returns, as gnet's
// AsyncWrite does. server.Upgrade gives such a host a session with
// Config.WriteNeverBlocks: the replies of inline routes and the pongs are
// written on the goroutine that feeds it, not handed to another one.
type QueueingHost interface {
	Host
	WriteNeverBlocks() bool
}

// CloseTimeout is how long a side that sent a close frame waits for the
// peer's close frame before it drops the connection.
const CloseTimeout = 2 * time.Second

// DefaultMaxMessageSize is the default Config.MaxMessageSize: 4 MiB, as the
// reference.
const DefaultMaxMessageSize = wsio.DefaultMaxMessageSize

// Config is what a Session needs to know of its side of the connection.
// One Config may be shared by any number of sessions: it must not change
// once a session uses it.
type Config struct {
	// Role says which end this is: a server (RoleServer, the zero value)
	// expects masked frames and sends unmasked ones, a client the reverse.
	Role wsrpc.Role
	// MaxMessageSize is the largest message the peer may send (after
	// reassembly, and after inflating); a larger one closes the connection
	// with 1009 from its frame header, before it is read. Default
	// DefaultMaxMessageSize.
	MaxMessageSize int64
	// CompressionThreshold and CompressionLevel say how messages are
	// compressed on a session that negotiated permessage-deflate (New's
	// deflate): the smallest message compressed (default 512 bytes) and the
	// compress/flate level (default flate.BestSpeed).
	CompressionThreshold int
	CompressionLevel     int
	// WriteNeverBlocks says that Host.Write queues and returns (as gnet's
	// AsyncWrite does): Feed then writes the replies of inline routes and
	// answers pings on the calling goroutine. When false, those writes are
	// made by another goroutine, so that a peer that does not read never
	// holds the caller.
	WriteNeverBlocks bool
}

func (c *Config) side() wsio.Side {
	if c.Role == wsrpc.RoleClient {
		return wsio.Client
	}
	return wsio.Server
}

func (c *Config) limits() wsio.Limits { return wsio.Limits{MaxMessageSize: c.MaxMessageSize} }

// CloseError is why a session ended at a close frame: the peer's (Remote,
// with its code and reason; 1005 when its frame had none), or a protocol
// violation of the peer's (not Remote: Code is what the session answered,
// 1002, 1007 or 1009). Match it with errors.As.
type CloseError = wsio.CloseError

// ErrEnded is what Feed returns once the session has ended: stop feeding
// it (the connection has been dropped, or is being).
var ErrEnded = errors.New("wsrpc session: the session has ended; stop feeding it and close the connection")

// Session is the WebSocket side of one connection; see the package doc.
// The zero value is ready once Init ran; New returns one.
//
// It is kept small, since an idle connection of the netpoll engine is
// mostly this: the parser is lent from a pool only while a frame or a
// message is incomplete, and the flags and the peer's close code share one
// word.
type Session struct {
	cfg    *Config
	host   Host
	conn   *wsrpc.Conn
	parser *wsio.Parser // only while a frame or message is incomplete
	pongs  *pongs       // made on the first ping
	w      wsio.Framer
	state  atomic.Uint32 // st… flags; the peer's close code in the top 16 bits
}

// The flags of Session.state.
const (
	stDeflate    = 1 << iota // permessage-deflate was negotiated
	stCloseSent              // Close wrote (or tried) the close frame
	stPeerClosed             // the peer's close frame arrived
	stReadEnded              // End ran: nothing more is read
	stDropped                // Host.Drop was called
	stCodeShift  = 16
)

// New returns a session writing through h, with the settings of cfg;
// deflate says that the upgrade negotiated permessage-deflate (without
// context takeover, as server.Upgrade does). Make its Conn with the
// session as the Transport and Attach it before the first Feed:
//
//	sess := session.New(h, cfg, false)
//	conn := wsrpc.NewConn(sess, wsrpc.ConnConfig{Registry: reg, BatchedReads: true})
//	sess.Attach(conn)
//	conn.Start()
func New(h Host, cfg *Config, deflate bool) *Session {
	s := new(Session)
	s.Init(h, cfg, deflate)
	return s
}

// Init makes the zero Session what New returns, for a Session kept inside
// another structure (the netpoll engine's connection record).
func (s *Session) Init(h Host, cfg *Config, deflate bool) {
	if cfg == nil {
		cfg = &defaultConfig
	}
	s.cfg, s.host = cfg, h
	s.w.Init(cfg.side())
	if deflate {
		s.setState(stDeflate)
	}
}

var defaultConfig Config

// Attach gives the session the Conn it feeds: one made with the session as
// its Transport. Call it once, before the first Feed.
func (s *Session) Attach(c *wsrpc.Conn) { s.conn = c }

// Config returns the session's configuration (not to be changed).
func (s *Session) Config() *Config { return s.cfg }

// Conn returns the attached Conn, or nil.
func (s *Session) Conn() *wsrpc.Conn { return s.conn }

// RemoteAddr returns the peer's address when the Host has a RemoteAddr()
// net.Addr method, else nil (Conn.RemoteAddr reports it).
func (s *Session) RemoteAddr() net.Addr {
	if a, ok := s.host.(interface{ RemoteAddr() net.Addr }); ok {
		return a.RemoteAddr()
	}
	return nil
}

// LocalAddr is RemoteAddr for this side's address.
func (s *Session) LocalAddr() net.Addr {
	if a, ok := s.host.(interface{ LocalAddr() net.Addr }); ok {
		return a.LocalAddr()
	}
	return nil
}

// setState sets the flags in bits and reports whether they were all clear.
func (s *Session) setState(bits uint32) bool { return s.state.Or(bits)&bits == 0 }

func (s *Session) has(bits uint32) bool { return s.state.Load()&bits != 0 }

// peerCode is the code of the peer's close frame, 0 before one came.
func (s *Session) peerCode() int32 { return int32(s.state.Load() >> stCodeShift) }

// parsers lends frame parsers to sessions while they hold part of a frame:
// an idle session keeps none.
var parsers = sync.Pool{New: func() any { return new(wsio.Parser) }}

// PeerCloseCode returns the code of the peer's close frame, or 0 before one
// came (wsrpc.Conn.PeerCloseCode reads it, to tell a peer's 1001 from a
// normal close).
func (s *Session) PeerCloseCode() int { return int(s.peerCode()) }
