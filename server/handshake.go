package server

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/wsrpc/wsrpc-go/internal/safely"
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
func (h *handshake) feed(b []byte) (complete bool, rest []byte, err error) {
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
}

func (e *httpError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.status, http.StatusText(e.status), e.msg)
}

var errHandshakeTooLarge = &httpError{http.StatusRequestHeaderFieldsTooLarge, "the upgrade request is larger than MaxHandshakeSize"}

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
		return nil, &httpError{http.StatusBadRequest, "malformed HTTP request"}
	}
	return r, nil
}

// checkUpgrade validates a WebSocket upgrade request (RFC 6455 §4.2.1) and
// returns the Sec-WebSocket-Accept value.
func checkUpgrade(r *http.Request) (accept string, err error) {
	if r.Method != http.MethodGet {
		return "", &httpError{http.StatusMethodNotAllowed, "a WebSocket upgrade must be a GET"}
	}
	if !r.ProtoAtLeast(1, 1) {
		return "", &httpError{http.StatusBadRequest, "a WebSocket upgrade needs HTTP/1.1 or later"}
	}
	if !isUpgrade(r) {
		return "", &httpError{http.StatusBadRequest, "this endpoint speaks WebSocket only (send a GET with Upgrade: websocket)"}
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		return "", &httpError{http.StatusUpgradeRequired, "unsupported Sec-WebSocket-Version; use 13"}
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if raw, err := base64.StdEncoding.DecodeString(key); err != nil || len(raw) != 16 {
		return "", &httpError{http.StatusBadRequest, "invalid Sec-WebSocket-Key"}
	}
	return acceptKey(key), nil
}

// websocketGUID is RFC 6455's fixed suffix of the accept key.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func acceptKey(key string) string {
	var in [24 + len(websocketGUID)]byte // a valid key is 24 characters
	sum := sha1.Sum(append(append(in[:0], key...), websocketGUID...))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// switchingProtocols appends the 101 response to dst; ext, when set, is the
// accepted Sec-WebSocket-Extensions value.
func switchingProtocols(dst []byte, accept, ext string) []byte {
	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	dst = append(dst, accept...)
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

// admit runs the server's hooks and checks on a parsed upgrade request: the
// same order as ServeHTTP (open, authorize, upgrade check). quickUpgrade
// skips it only when none of the hooks and options it reads a request for
// is set: a new one here must be added to needsRequest's list too.
//
// Each hook and check runs through s.user, so a panic in one answers 500
// (errUserPanic) for this request only, and is logged with its stack.
func (s *Server) admit(r *http.Request, checkPath bool) (accept string, err error) {
	h := s.hooks()
	if checkPath && s.opts.Path != "" && r.URL.Path != s.opts.Path {
		return "", &httpError{http.StatusNotFound, "no WebSocket endpoint at " + r.URL.Path}
	}
	if h != nil && h.OnOpen != nil && !s.userHook("OnOpen", r, h.OnOpen) {
		return "", errUserPanic
	}
	if ok, panicked := s.user("CheckOrigin", r, s.originAllowed); panicked {
		return "", errUserPanic
	} else if !ok {
		if h != nil && h.OnAuthFail != nil && !s.userHook("OnAuthFail", r, h.OnAuthFail) {
			return "", errUserPanic
		}
		return "", &httpError{http.StatusForbidden, "Forbidden: cross-origin WebSocket request (see Options.AllowedOrigins)"}
	}
	if s.opts.Authorize != nil {
		if ok, panicked := s.user("Authorize", r, s.opts.Authorize); panicked {
			return "", errUserPanic
		} else if !ok {
			if h != nil && h.OnAuthFail != nil && !s.userHook("OnAuthFail", r, h.OnAuthFail) {
				return "", errUserPanic
			}
			return "", &httpError{http.StatusForbidden, "Forbidden"}
		}
	}
	if h != nil && h.OnAuthSuccess != nil && !s.userHook("OnAuthSuccess", r, h.OnAuthSuccess) {
		return "", errUserPanic
	}
	accept, err = checkUpgrade(r)
	if err == nil && s.opts.MaxConnections > 0 && s.connections() >= s.opts.MaxConnections {
		err = &httpError{http.StatusServiceUnavailable, "too many connections (MaxConnections); retry later"}
	}
	if err != nil {
		s.upgradeFailed(r, err)
	}
	return accept, err
}

// errUserPanic answers an upgrade request whose Authorize, CheckOrigin or
// request hook panicked.
var errUserPanic = &httpError{http.StatusInternalServerError, "Internal Server Error: the server failed while checking this upgrade request"}

// user runs a check of the user's on r and reports its answer, or that it
// panicked (then logged with its stack).
func (s *Server) user(what string, r *http.Request, check func(*http.Request) bool) (ok, panicked bool) {
	defer safely.Recover(s.engine.Logger, what, r.RemoteAddr, &panicked)
	return check(r), false
}

// userHook runs a request hook on r; false if it panicked.
func (s *Server) userHook(what string, r *http.Request, hook func(*http.Request)) bool {
	_, panicked := s.user(what, r, func(r *http.Request) bool { hook(r); return true })
	return !panicked
}

// upgradeFailed runs the OnUpgradeFail hook, if any.
func (s *Server) upgradeFailed(r *http.Request, err error) {
	if h := s.hooks(); h != nil && h.OnUpgradeFail != nil {
		defer safely.Recover(s.engine.Logger, "OnUpgradeFail", r.RemoteAddr, nil)
		h.OnUpgradeFail(r, err)
	}
}

// originAllowed is the defence against cross-site WebSocket hijacking: a
// browser always sends Origin, and a page of another site must not borrow
// the user's cookies to open a connection. Requests without Origin (non-
// browser clients) pass; with one, it must match the request's host or an
// entry of AllowedOrigins ("*" allows any), or CheckOrigin decides.
func (s *Server) originAllowed(r *http.Request) bool {
	if s.opts.CheckOrigin != nil {
		return s.opts.CheckOrigin(r)
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, allowed := range s.opts.AllowedOrigins {
		if allowed == "*" || strings.EqualFold(allowed, origin) || strings.EqualFold(allowed, u.Host) {
			return true
		}
	}
	return false
}
