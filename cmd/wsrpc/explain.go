package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/internal/wsio"
)

// maxBodyShown bounds the part of a refusal's body that is printed.
const maxBodyShown = 300

// failure is an error as the CLI reports it: in words on stderr, or with
// -json as one JSON object a line. Its text fields may hold what the peer
// sent: they are escaped when printed.
type failure struct {
	Kind    string `json:"kind"`             // usage, connect, refused, tls, timeout, reply, closed, route
	Type    string `json:"type,omitempty"`   // reply: the error type the server answered
	Message string `json:"message"`          // what happened
	Status  int    `json:"status,omitempty"` // refused: the HTTP status
	Body    string `json:"body,omitempty"`   // refused: the start of the server's answer
	Hint    string `json:"hint,omitempty"`   // what to do about it
	Exit    int    `json:"exit"`             // the exit status it gives
}

// dialError is a failed connection to url.
type dialError struct {
	url     string
	timeout time.Duration // -timeout
	err     error
}

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// closedError is a connection that ended: conn.Err() and the code the peer
// closed with.
type closedError struct {
	err      error
	peerCode int
}

func (e *closedError) Error() string { return closeText(e.err, e.peerCode) }

// explain turns err into what the user is told.
func explain(err error) failure {
	var (
		ue *usageErr
		re *wsrpc.Error
		de *dialError
		ce *closedError
	)
	switch {
	case errors.As(err, &ue):
		return failure{Kind: "usage", Message: ue.msg, Hint: "run 'wsrpc help' for usage", Exit: exitUsage}
	case errors.As(err, &re):
		return failure{Kind: "reply", Type: re.Type, Message: re.Message, Exit: exitReply}
	case errors.As(err, &de):
		return explainDial(de)
	case errors.As(err, &ce):
		return failure{Kind: "closed", Message: ce.Error(), Exit: exitUsage}
	}
	f := failure{Kind: "error", Message: trimPrefixes(err.Error()), Exit: exitUsage}
	if errors.Is(err, context.DeadlineExceeded) {
		f.Kind, f.Hint = "timeout", "raise -timeout, or check that the server is up and answering"
	}
	return f
}

// explainDial explains a connection that could not be made.
func explainDial(de *dialError) failure {
	var he *client.HandshakeError
	if errors.As(de.err, &he) {
		return explainRefusal(de.url, he)
	}
	cause := de.err
	if inner := errors.Unwrap(cause); inner != nil && strings.HasPrefix(cause.Error(), "wsrpc client: connect to ") {
		cause = inner // the client's words name the URL, as ours do
	}
	f := failure{Kind: "connect", Message: fmt.Sprintf("connect to %s: %s", de.url, trimPrefixes(cause.Error())), Exit: exitUsage}
	var oe *net.OpError
	isDial := errors.As(de.err, &oe) && oe.Op == "dial"
	timedOut := errors.Is(de.err, context.DeadlineExceeded) || isTimeout(de.err)
	switch {
	case isDial && !timedOut:
		f.Hint = "check the host and port, and that the server is running"
	case strings.HasPrefix(de.url, "wss://") && !isDial:
		// Past the TCP connection, a wss:// dial fails in TLS: a plain
		// server answers the ClientHello with nothing, an error or EOF.
		f.Kind = "tls"
		why := trimPrefixes(cause.Error())
		if timedOut {
			why = fmt.Sprintf("no answer within %v (-timeout)", de.timeout)
		}
		f.Message = fmt.Sprintf("connect to %s: the TLS handshake failed: %s", de.url, why)
		f.Hint = "if the server does not serve TLS, use " + "ws://" + strings.TrimPrefix(de.url, "wss://")
	case timedOut:
		f.Kind = "timeout"
		f.Message = fmt.Sprintf("connect to %s: no answer within %v (-timeout)", de.url, de.timeout)
		f.Hint = "raise -timeout, or check that the server is up and that URL is its WebSocket endpoint"
	}
	return f
}

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// explainRefusal explains an upgrade the server refused: its status, the
// start of its body, and a hint that fits.
func explainRefusal(rawURL string, he *client.HandshakeError) failure {
	body := strings.Join(strings.Fields(string(he.Body)), " ")
	if len(body) > maxBodyShown {
		body = strings.ToValidUTF8(body[:maxBodyShown], "") + "…"
	}
	f := failure{
		Kind:    "refused",
		Message: fmt.Sprintf("%s refused the WebSocket upgrade with HTTP status %d %s", rawURL, he.StatusCode, http.StatusText(he.StatusCode)),
		Status:  he.StatusCode,
		Body:    body,
		Exit:    exitUsage,
	}
	path := "/"
	if u, err := url.Parse(rawURL); err == nil && u.Path != "" {
		path = u.Path
	}
	st := he.StatusCode
	switch {
	case (st == http.StatusForbidden || st == http.StatusUnauthorized) && strings.Contains(strings.ToLower(body), "origin"):
		f.Hint = "the server refuses this Origin: send one it allows with -H 'Origin: https://…', or add it to the server's AllowedOrigins"
	case st == http.StatusForbidden || st == http.StatusUnauthorized:
		f.Hint = "send credentials with -H, e.g. -H 'Authorization: Bearer …'"
	case st == http.StatusNotFound:
		f.Hint = fmt.Sprintf("no WebSocket endpoint at the path %s: check the URL's path", path)
	case st >= 200 && st < 300:
		f.Hint = fmt.Sprintf("%s is not a WebSocket endpoint: the server answered with a plain HTTP page", rawURL)
		if he.ContentType != "" {
			f.Hint += " (" + he.ContentType + ")"
		}
	case st >= 300 && st < 400:
		f.Hint = "the server redirects: check the URL's scheme (ws:// or wss://), host and path"
	case st == http.StatusBadRequest:
		f.Hint = "the server did not take the request as a WebSocket upgrade: check that URL is its WebSocket endpoint"
	case st == http.StatusTooManyRequests || st == http.StatusServiceUnavailable:
		f.Hint = "the server is busy or shutting down: try again later"
	case st >= 500:
		f.Hint = "the server failed: its logs say why"
	}
	return f
}

// closeText says why a connection ended: the close code and reason the
// peer sent, or what broke the stream; err is Conn.Err.
func closeText(err error, peerCode int) string {
	var ce *wsio.CloseError
	switch {
	case errors.As(err, &ce) && ce.Reason != "":
		return fmt.Sprintf("the connection ended: close code %s, reason %q", codeText(int(ce.Code)), ce.Reason)
	case errors.As(err, &ce):
		return "the connection ended: close code " + codeText(int(ce.Code))
	case err == nil || err == wsrpc.ErrClosed: // a clean close, or one without a cause
		if peerCode != 0 {
			return "the connection ended: close code " + codeText(peerCode)
		}
		return "the connection ended"
	}
	return "the connection ended without a close frame: " + trimPrefixes(err.Error())
}

// closeCodes name the close codes of RFC 6455 and the engine's own.
var closeCodes = map[int]string{
	1000: "normal closure", 1001: "going away", 1002: "protocol error", 1003: "unsupported data",
	1005: "no status", 1006: "abnormal closure", 1007: "invalid data", 1008: "policy violation",
	1009: "message too big", 1010: "mandatory extension", 1011: "internal error", 1012: "service restart",
	1013: "try again later",
}

// codeText is a close code with its name, such as `1001 (going away)`.
func codeText(code int) string {
	if name, ok := closeCodes[code]; ok {
		return fmt.Sprintf("%d (%s)", code, name)
	}
	return fmt.Sprint(code)
}

// trimPrefixes removes the "wsrpc: ", "wsrpc client: " and "connection
// closed: " prefixes the layers of an error add, so that the CLI's own
// "wsrpc: " comes once.
func trimPrefixes(msg string) string {
	for {
		t := msg
		for _, p := range []string{"wsrpc: ", "wsrpc client: ", "connection closed: "} {
			t = strings.TrimPrefix(t, p)
		}
		if t == msg {
			return msg
		}
		msg = t
	}
}

// fail prints err as the user is told (see failure) and returns its exit
// status.
func (s *session) fail(err error) int {
	f := explain(err)
	s.report(f)
	return f.Exit
}

// report prints f on stderr: with -json as one JSON object, else as
// "TYPE: message" for an error reply and "wsrpc: message" otherwise, with
// the body and the hint on lines of their own.
func (s *session) report(f failure) {
	if s.o.json {
		b, _ := json.Marshal(f)
		s.errs.print("", safe(b, true))
		return
	}
	var b strings.Builder
	if f.Kind == "reply" {
		fmt.Fprintf(&b, "%s: %s", f.Type, f.Message)
	} else {
		b.WriteString("wsrpc: " + f.Message)
	}
	if f.Body != "" {
		fmt.Fprintf(&b, "\nwsrpc: the server said: %s", f.Body)
	}
	if f.Hint != "" && f.Kind != "usage" {
		fmt.Fprintf(&b, "\nwsrpc: hint: %s", f.Hint)
	}
	if f.Kind == "usage" && f.Hint != "" {
		b.WriteString("\nRun 'wsrpc help' for usage.")
	}
	s.errs.print("", safe([]byte(b.String()), false))
}
