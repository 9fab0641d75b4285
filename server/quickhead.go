package server

import (
	"bytes"
	"encoding/base64"

	"github.com/wsrpc/wsrpc-go/internal/wsio"
)

// The quick upgrade admits the usual upgrade request without net/http: no
// http.Request, no header map, no garbage besides the answer. It is only
// used when nothing needs an *http.Request at upgrade time (no Authorize,
// no CheckOrigin, no Identify, no request hooks), and it only ever says yes: anything it
// does not recognise, or would refuse, goes the net/http way, which stays
// the judge and gives refusals their status and hooks. FuzzHandshake checks
// that every head it admits, net/http admits too, with the same answer.

// quickHead is what the upgrade checks need of a request head.
type quickHead struct {
	path, host, origin, key, version, upgrade, exts []byte
	connUpgrade                                     bool
}

// quickUpgrade returns the accept key and extension answer of head when it
// is a plain, acceptable WebSocket upgrade; ok is false when net/http must
// decide.
func (s *Server) quickUpgrade(head []byte) (accept acceptValue, ext string, ok bool) {
	if s.needsRequest() {
		return accept, "", false
	}
	q, ok := readQuickHead(head)
	if !ok || s.opts.Path != "" && string(q.path) != s.opts.Path {
		return accept, "", false
	}
	if !q.connUpgrade || !bytes.EqualFold(q.upgrade, []byte("websocket")) || string(q.version) != "13" {
		return accept, "", false
	}
	var raw [18]byte // the decoded size of a 24-character key
	if len(q.key) != 24 {
		return accept, "", false
	}
	if n, err := base64.StdEncoding.Decode(raw[:], q.key); err != nil || n != 16 {
		return accept, "", false
	}
	if q.origin != nil && !s.quickOriginAllowed(q.origin, q.host) {
		return accept, "", false
	}
	if !s.roomForOne() {
		return accept, "", false
	}
	if s.opts.EnableCompression && q.exts != nil {
		ext = wsio.NegotiateDeflate([]string{string(q.exts)})
	}
	return acceptKey(q.key), ext, true
}

// quickOriginAllowed is originAllowed for an Origin of the form
// scheme://name[:port], with a name of letters, digits, dots and dashes;
// any other form is left to net/http (false).
func (s *Server) quickOriginAllowed(origin, host []byte) bool {
	scheme, rest, ok := bytes.Cut(origin, []byte("://"))
	if !ok || len(scheme) == 0 || !isLetter(scheme[0]) {
		return false
	}
	for _, b := range scheme {
		if !isLetter(b) && !isDigit(b) && b != '+' && b != '-' && b != '.' {
			return false
		}
	}
	name, port, _ := bytes.Cut(rest, []byte(":"))
	if len(name) == 0 {
		return false
	}
	for _, b := range name {
		if !isLetter(b) && !isDigit(b) && b != '-' && b != '.' {
			return false
		}
	}
	for _, b := range port {
		if !isDigit(b) {
			return false
		}
	}
	if bytes.EqualFold(rest, host) {
		return true
	}
	for _, allowed := range s.opts.AllowedOrigins {
		if allowed == "*" || bytes.EqualFold([]byte(allowed), origin) || bytes.EqualFold([]byte(allowed), rest) {
			return true
		}
	}
	return false
}

// readQuickHead reads a head of the plainest form: "GET <path> HTTP/1.1",
// then "Name: value" lines ending in CRLF, names made of token characters
// and values of visible ASCII, no folding, each header it looks at once, and
// no body headers. ok is false for anything else.
func readQuickHead(head []byte) (q quickHead, ok bool) {
	line, rest, found := bytes.Cut(head, []byte("\r\n"))
	if !found {
		return q, false
	}
	target, found := bytes.CutPrefix(line, []byte("GET "))
	if !found {
		return q, false
	}
	target, found = bytes.CutSuffix(target, []byte(" HTTP/1.1"))
	if !found || len(target) == 0 || target[0] != '/' || len(target) > 1 && target[1] == '/' {
		return q, false
	}
	path, query, _ := bytes.Cut(target, []byte("?"))
	for _, b := range path {
		if !isPathByte(b) {
			return q, false
		}
	}
	for _, b := range query {
		if !isPathByte(b) && b != '?' {
			return q, false
		}
	}
	q.path = path
	for {
		line, rest, found = bytes.Cut(rest, []byte("\r\n"))
		if !found {
			return q, false
		}
		if len(line) == 0 {
			break
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found || len(name) == 0 {
			return q, false
		}
		for _, b := range name {
			if !isTokenByte(b) {
				return q, false
			}
		}
		value = bytes.Trim(value, " \t")
		for _, b := range value {
			if (b < 0x20 || b > 0x7e) && b != '\t' {
				return q, false
			}
		}
		var field *[]byte
		switch {
		case bytes.EqualFold(name, []byte("Host")):
			field = &q.host
		case bytes.EqualFold(name, []byte("Origin")):
			field = &q.origin
		case bytes.EqualFold(name, []byte("Upgrade")):
			field = &q.upgrade
		case bytes.EqualFold(name, []byte("Sec-WebSocket-Key")):
			field = &q.key
		case bytes.EqualFold(name, []byte("Sec-WebSocket-Version")):
			field = &q.version
		case bytes.EqualFold(name, []byte(wsio.ExtensionHeader)):
			field = &q.exts
		case bytes.EqualFold(name, []byte("Connection")):
			if q.connUpgrade {
				return q, false // one Connection header only
			}
			for tok := range bytes.SplitSeq(value, []byte(",")) {
				q.connUpgrade = q.connUpgrade || bytes.EqualFold(bytes.Trim(tok, " \t"), []byte("upgrade"))
			}
			if !q.connUpgrade {
				return q, false
			}
			continue
		case bytes.EqualFold(name, []byte("Content-Length")), bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return q, false
		default:
			continue
		}
		if *field != nil || len(value) == 0 {
			return q, false
		}
		*field = value
	}
	return q, len(rest) == 0 && q.host != nil
}

func isLetter(b byte) bool { return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' }
func isDigit(b byte) bool  { return '0' <= b && b <= '9' }

// isTokenByte reports whether b may appear in a header name (RFC 9110
// §5.6.2).
func isTokenByte(b byte) bool {
	return isLetter(b) || isDigit(b) || bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), b) >= 0
}

// isPathByte reports whether b may appear unescaped in a path as net/url
// keeps it (no percent-escapes: those go the net/http way).
func isPathByte(b byte) bool {
	return isLetter(b) || isDigit(b) || bytes.IndexByte([]byte("-._~/!$&'()*+,;=:@"), b) >= 0
}
