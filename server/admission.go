package server

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wsrpc/wsrpc-go/internal/safely"
)

// Admission: the one set of rules an upgrade request passes, whichever way
// it came (ServeHTTP, Serve with either engine, ServeConn). In order:
//
//  1. a server shutting down answers 503, before any user code runs;
//  2. Options.Path (Serve and ServeConn only; ServeHTTP leaves paths to your
//     mux): 404;
//  3. OnOpen; the origin rule (CheckOrigin or AllowedOrigins), then
//     Authorize, then Identify: 403 (OnAuthFail), a bad id 400;
//     OnAuthSuccess;
//  4. the WebSocket checks of RFC 6455 §4.2.1: 400, 405 or 426, then
//     MaxConnections: 503 (OnUpgradeFail for both).
//
// A user function that panics answers 500 to that request only.
//
// Serve and ServeConn hold the raw head: admitHead first tries the quick
// upgrade, which judges a plain head without building an *http.Request when
// no rule needs one (see needsRequest), and only ever says yes; anything
// else is parsed and goes through admit. FuzzHandshake checks that whatever
// the quick upgrade admits, admit admits with the same answer.

// identity is what Identify gave a connection: its id ("" for a generated
// one) and its value.
type identity struct {
	id    string
	value any
}

// admitted is the answer to an upgrade request that passed admission.
type admitted struct {
	accept acceptValue // the Sec-WebSocket-Accept value
	ext    string      // the Sec-WebSocket-Extensions answer, or ""
	identity
}

// MaxIDLength bounds the connection ids Options.Identify may give.
const MaxIDLength = 128

// CloseReplaced is the close code of a connection replaced by a newer one
// that Identify gave the same id.
const CloseReplaced = 4409

var (
	errShuttingDown = &httpError{status: http.StatusServiceUnavailable, msg: "the server is shutting down; retry on another server or later"}
	errTooMany      = &httpError{status: http.StatusServiceUnavailable, msg: "too many connections (MaxConnections); retry later"}
	// errUserPanic answers an upgrade request whose Authorize, CheckOrigin,
	// Identify or request hook panicked.
	errUserPanic = &httpError{status: http.StatusInternalServerError, msg: "Internal Server Error: the server failed while checking this upgrade request"}
)

// admitHead admits a complete request head read by Serve or ServeConn from
// peer (nil when unknown), whose address is asked only when a request is
// built. The request's context, when one is built, ends at deadline (the
// end of the handshake's time) or with the server.
func (s *Server) admitHead(peer interface{ RemoteAddr() net.Addr }, head []byte, deadline time.Time) (admitted, error) {
	if accept, ext, ok := s.quickUpgrade(head); ok {
		return admitted{accept: accept, ext: ext}, nil
	}
	req, err := parseRequest(head)
	if err != nil {
		return admitted{}, err
	}
	if peer != nil {
		if remote := peer.RemoteAddr(); remote != nil {
			req.RemoteAddr = remote.String()
		}
	}
	ctx, cancel := context.WithDeadline(s.ctx, deadline)
	defer cancel()
	return s.admit(req.WithContext(ctx), true)
}

// admit runs the rules on a parsed upgrade request; checkPath applies
// Options.Path.
func (s *Server) admit(r *http.Request, checkPath bool) (admitted, error) {
	if s.isClosing() {
		return admitted{}, errShuttingDown
	}
	h := s.hooks()
	if checkPath && s.opts.Path != "" && r.URL.Path != s.opts.Path {
		return admitted{}, &httpError{status: http.StatusNotFound, msg: "no WebSocket endpoint at " + r.URL.Path}
	}
	if h != nil && h.OnOpen != nil && !s.userHook("OnOpen", r, h.OnOpen) {
		return admitted{}, errUserPanic
	}
	refuse := func(err error) (admitted, error) {
		if h != nil && h.OnAuthFail != nil && !s.userHook("OnAuthFail", r, h.OnAuthFail) {
			return admitted{}, errUserPanic
		}
		return admitted{}, err
	}
	if ok, panicked := s.user("CheckOrigin", r, s.originAllowed); panicked {
		return admitted{}, errUserPanic
	} else if !ok {
		return refuse(&httpError{status: http.StatusForbidden, msg: "Forbidden: cross-origin WebSocket request (see Options.AllowedOrigins)"})
	}
	if s.opts.Authorize != nil {
		if ok, panicked := s.user("Authorize", r, s.opts.Authorize); panicked {
			return admitted{}, errUserPanic
		} else if !ok {
			return refuse(&httpError{status: http.StatusForbidden, msg: "Forbidden"})
		}
	}
	var a admitted
	if s.opts.Identify != nil {
		id, value, err, panicked := s.identify(r)
		switch {
		case panicked:
			return admitted{}, errUserPanic
		case err != nil:
			return refuse(&httpError{status: http.StatusForbidden, msg: "Forbidden", cause: err})
		case id != "" && !ValidID(id):
			return refuse(&httpError{status: http.StatusBadRequest, msg: "invalid connection id: it must be 1 to 128 visible ASCII characters"})
		}
		a.identity = identity{id: id, value: value}
	}
	if h != nil && h.OnAuthSuccess != nil && !s.userHook("OnAuthSuccess", r, h.OnAuthSuccess) {
		return admitted{}, errUserPanic
	}
	accept, err := checkUpgrade(r)
	if err == nil && s.opts.MaxConnections > 0 && s.connections() >= s.opts.MaxConnections {
		err = errTooMany
	}
	if err != nil {
		s.upgradeFailed(r, err)
		return admitted{}, err
	}
	a.accept, a.ext = accept, s.negotiate(r)
	return a, nil
}

// ValidID reports whether id follows the rules of Identify's ids: 1 to
// MaxIDLength bytes of visible ASCII, safe to log and to put in a URL path.
// Code that issues ids (a token service, say) can check them with it.
func ValidID(id string) bool {
	if len(id) == 0 || len(id) > MaxIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// isClosing reports whether Shutdown or Close began.
func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// user runs a check of the user's on r and reports its answer, or that it
// panicked (then logged with its stack).
func (s *Server) user(what string, r *http.Request, check func(*http.Request) bool) (ok, panicked bool) {
	defer safely.Recover(s.opts.Logger, what, r.RemoteAddr, &panicked)
	return check(r), false
}

// userHook runs a request hook on r; false if it panicked.
func (s *Server) userHook(what string, r *http.Request, hook func(*http.Request)) bool {
	_, panicked := s.user(what, r, func(r *http.Request) bool { hook(r); return true })
	return !panicked
}

// identify runs Identify on r; panicked reports a panic (then logged).
func (s *Server) identify(r *http.Request) (id string, value any, err error, panicked bool) {
	defer safely.Recover(s.opts.Logger, "Identify", r.RemoteAddr, &panicked)
	id, value, err = s.opts.Identify(r)
	return id, value, err, false
}

// upgradeFailed runs the OnUpgradeFail hook, if any.
func (s *Server) upgradeFailed(r *http.Request, err error) {
	if h := s.hooks(); h != nil && h.OnUpgradeFail != nil {
		defer safely.Recover(s.opts.Logger, "OnUpgradeFail", r.RemoteAddr, nil)
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

// roomForOne reports whether a new connection may be admitted now: the
// server is not shutting down and is below MaxConnections.
func (s *Server) roomForOne() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closing && (s.opts.MaxConnections <= 0 || s.ids.n < s.opts.MaxConnections)
}
