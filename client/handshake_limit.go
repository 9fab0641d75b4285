package client

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
)

// MaxHandshakeResponseSize is the most the client reads of a server's
// answer to its upgrade request (the status line and headers, with what the
// read buffer takes in past them) before Dial gives up with
// ErrHandshakeResponseTooLarge: a server that answers and never ends its
// headers cannot grow the client's memory until DialTimeout.
const MaxHandshakeResponseSize = 64 << 10

// ErrHandshakeResponseTooLarge is returned by Dial when the server's answer
// to the upgrade request does not end within MaxHandshakeResponseSize bytes:
// the URL is not a WebSocket endpoint, or the server is broken or hostile.
var ErrHandshakeResponseTooLarge = errors.New("wsrpc client: the server's handshake response did not end within MaxHandshakeResponseSize (64 KiB); check that the URL is a WebSocket endpoint")

// handshakeConn bounds what the dial reads from a connection; the bound is
// lifted once the handshake is done (the read buffer of the handshake may
// keep reading through it).
type handshakeConn struct {
	net.Conn
	left int // what the handshake may still read; < 0: no bound
}

// limitHandshake is the Dialer's WrapConn: it bounds the handshake's reads.
func limitHandshake(nc net.Conn) net.Conn {
	return &handshakeConn{Conn: nc, left: MaxHandshakeResponseSize}
}

func (c *handshakeConn) Read(b []byte) (int, error) {
	if c.left < 0 {
		return c.Conn.Read(b)
	}
	if c.left == 0 {
		return 0, ErrHandshakeResponseTooLarge
	}
	if len(b) > c.left {
		b = b[:c.left]
	}
	n, err := c.Conn.Read(b)
	c.left -= n
	return n, err
}

// handshakeDone lifts the bound of a dialled connection and returns the
// connection itself, so that the reader can wait on its socket. Call it
// before anything else reads the connection.
func handshakeDone(nc net.Conn) net.Conn {
	hc, ok := nc.(*handshakeConn)
	if !ok {
		return nc
	}
	hc.left = -1
	return hc.Conn
}

// read is the Dialer's OnStatusError: it keeps the content type and the
// start of the body of the server's refusal. resp is bounded by the
// handshake's limit and the dial's deadline.
func (e *HandshakeError) read(_ int, _ []byte, resp io.Reader) {
	r, err := http.ReadResponse(bufio.NewReader(resp), nil)
	if err != nil {
		return
	}
	defer r.Body.Close()
	e.ContentType = r.Header.Get("Content-Type")
	e.Body, _ = io.ReadAll(io.LimitReader(r.Body, MaxRefusalBodySize))
}
