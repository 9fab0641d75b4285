package server

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// DefaultMaxHandshakeSize bounds the HTTP upgrade request a client may send
// to Serve or ServeConn; a larger request is answered 431 and dropped.
const DefaultMaxHandshakeSize = 8 << 10

// handshake accumulates an HTTP upgrade request as bytes arrive, without
// blocking, so an epoll loop can parse a slow client's request piece by
// piece.
type handshake struct {
	buf []byte
	max int
}

// feed adds bytes and reports whether the request head is complete; rest is
// what followed it (frames the client sent without waiting for the 101).
//
// A request line begins with a method, an upper-case token: bytes that
// begin otherwise (a TLS ClientHello sent to a plain listener, a stray
// protocol) are refused at once, not after HandshakeTimeout.
func (h *handshake) feed(b []byte) (complete bool, rest []byte, err error) {
	if len(h.buf) == 0 && len(b) > 0 && (b[0] < 'A' || b[0] > 'Z') {
		return false, nil, errNotHTTP
	}
	h.buf = append(h.buf, b...)
	if i := bytes.Index(h.buf, []byte("\r\n\r\n")); i >= 0 {
		if i+4 > h.max {
			return false, nil, errHandshakeTooLarge
		}
		rest = h.buf[i+4:]
		h.buf = h.buf[:i+4]
		return true, rest, nil
	}
	if len(h.buf) > h.max {
		return false, nil, errHandshakeTooLarge
	}
	return false, nil, nil
}

// httpError is a handshake failure with the response to send.
type httpError struct {
	status int
	msg    string
	cause  error // the user's error behind it (Identify's), if any
}

// Unwrap returns the error of the user's that caused the refusal, if any.
func (e *httpError) Unwrap() error { return e.cause }

func (e *httpError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.status, http.StatusText(e.status), e.msg)
}

var errHandshakeTooLarge = &httpError{status: http.StatusRequestHeaderFieldsTooLarge, msg: "the upgrade request is larger than MaxHandshakeSize"}

// errNotHTTP refuses bytes that cannot begin an HTTP request.
var errNotHTTP = &httpError{status: http.StatusBadRequest, msg: "this is a plain HTTP WebSocket endpoint: connect with ws://, or put TLS in front of it for wss://"}

// response is the HTTP response for a failed handshake.
func (e *httpError) response() []byte {
	body := fmt.Sprintf("%d: %s\n", e.status, e.msg)
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		e.status, http.StatusText(e.status), len(body), body)
}

// headReader is the reader http.ReadRequest parses a head from; it is
// pooled, so that an accept storm does not leave a 4 KB buffer of garbage
// behind each connection.
type headReader struct {
	src bytes.Reader
	br  *bufio.Reader
}

var headReaders = sync.Pool{New: func() any {
	h := new(headReader)
	h.br = bufio.NewReader(&h.src)
	return h
}}

// parseRequest parses a complete request head. The request has no body:
// whatever follows the head is WebSocket frames.
func parseRequest(head []byte) (*http.Request, error) {
	h := headReaders.Get().(*headReader)
	h.src.Reset(head)
	h.br.Reset(&h.src)
	r, err := http.ReadRequest(h.br)
	if r != nil {
		r.Body = http.NoBody // never the pooled reader
	}
	h.src.Reset(nil)
	h.br.Reset(&h.src)
	headReaders.Put(h)
	if err != nil {
		return nil, &httpError{status: http.StatusBadRequest, msg: "malformed HTTP request"}
	}
	return r, nil
}

// checkUpgrade validates a WebSocket upgrade request (RFC 6455 §4.2.1) and
// returns the Sec-WebSocket-Accept value.
func checkUpgrade(r *http.Request) (accept acceptValue, err error) {
	if r.Method != http.MethodGet {
		return acceptValue{}, &httpError{status: http.StatusMethodNotAllowed, msg: "a WebSocket upgrade must be a GET"}
	}
	if !r.ProtoAtLeast(1, 1) {
		return acceptValue{}, &httpError{status: http.StatusBadRequest, msg: "a WebSocket upgrade needs HTTP/1.1 or later"}
	}
	if !isUpgrade(r) {
		return acceptValue{}, &httpError{status: http.StatusBadRequest, msg: "this endpoint speaks WebSocket only (send a GET with Upgrade: websocket)"}
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		return acceptValue{}, &httpError{status: http.StatusUpgradeRequired, msg: "unsupported Sec-WebSocket-Version; use 13"}
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if raw, err := base64.StdEncoding.DecodeString(key); err != nil || len(raw) != 16 {
		return acceptValue{}, &httpError{status: http.StatusBadRequest, msg: "invalid Sec-WebSocket-Key"}
	}
	return acceptKey(key), nil
}

// websocketGUID is RFC 6455's fixed suffix of the accept key.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// acceptValue is a Sec-WebSocket-Accept value: the base64 of a SHA-1 sum,
// kept in an array so that answering an upgrade allocates nothing for it.
type acceptValue [28]byte

func (a acceptValue) String() string { return string(a[:]) }

func acceptKey[K string | []byte](key K) acceptValue {
	var in [24 + len(websocketGUID)]byte // a valid key is 24 characters
	sum := sha1.Sum(append(append(in[:0], key...), websocketGUID...))
	var a acceptValue
	base64.StdEncoding.Encode(a[:], sum[:])
	return a
}

// switchingProtocols appends the 101 response to dst; ext, when set, is the
// accepted Sec-WebSocket-Extensions value.
func switchingProtocols(dst []byte, accept acceptValue, ext string) []byte {
	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	dst = append(dst, accept[:]...)
	dst = append(dst, "\r\n"...)
	if ext != "" {
		dst = append(dst, "Sec-WebSocket-Extensions: "...)
		dst = append(dst, ext...)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// responseBufs holds the buffers 101 responses are written from.
var responseBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

func isUpgrade(r *http.Request) bool {
	if r.Method != http.MethodGet || !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return false
	}
	for _, v := range r.Header.Values("Connection") {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}
