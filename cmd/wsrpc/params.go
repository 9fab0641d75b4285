package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"os"
	"regexp"
	"strings"
)

// parseParams turns the PARAMS arguments into the call's params: one JSON
// object or array as it is, "-" (read from stdin; nil stdin refuses it),
// @FILE, or key=value pairs as an object (each value JSON when it parses,
// else a string, but a number that is not valid JSON is refused). No
// arguments give {}.
func parseParams(args []string, stdin io.Reader) (json.RawMessage, error) {
	if len(args) == 0 {
		return json.RawMessage("{}"), nil
	}
	if len(args) == 1 {
		if raw, ok, err := jsonContainer(args[0]); ok || err != nil {
			return raw, err
		}
		if args[0] == "-" || strings.HasPrefix(args[0], "@") {
			return paramsFrom(args[0], stdin)
		}
	}
	var b bytes.Buffer
	b.WriteByte('{')
	seen := make(map[string]bool, len(args))
	for i, arg := range args {
		key, value, ok := strings.Cut(arg, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("params %q: want one JSON object or array, key=value pairs, - (stdin) or @FILE", arg)
		}
		if seen[key] {
			return nil, fmt.Errorf("params: key %q given twice", key)
		}
		seen[key] = true
		v, err := jsonValue(value)
		if err != nil {
			return nil, fmt.Errorf("params %s: %v", arg, err)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// paramsFrom reads the params from stdin ("-") or a file ("@FILE"): one
// JSON object or array, at most maxLine bytes; empty input gives {}.
func paramsFrom(src string, stdin io.Reader) (json.RawMessage, error) {
	r := stdin
	if src != "-" {
		f, err := os.Open(src[1:])
		if err != nil {
			return nil, fmt.Errorf("params %s: %w", src, err)
		}
		defer f.Close()
		r = f
	} else if r == nil {
		return nil, errors.New(`params "-": stdin is not available here`)
	}
	b, err := io.ReadAll(io.LimitReader(r, maxLine+1))
	if err != nil {
		return nil, fmt.Errorf("params %s: %w", src, err)
	}
	if len(b) > maxLine {
		return nil, fmt.Errorf("params %s: larger than %d bytes", src, maxLine)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return json.RawMessage("{}"), nil
	}
	raw, ok, err := jsonContainer(string(b))
	if err != nil || !ok {
		return nil, fmt.Errorf("params %s: want one JSON object or array", src)
	}
	return raw, nil
}

// jsonContainer reports whether s is a JSON object or array, and returns it
// compacted. Text that starts like one but does not parse is an error:
// taking it for a key=value pair would only hide the mistake.
func jsonContainer(s string) (raw json.RawMessage, ok bool, err error) {
	t := strings.TrimSpace(s)
	if t == "" || (t[0] != '{' && t[0] != '[') {
		return nil, false, nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(t)); err != nil {
		return nil, false, fmt.Errorf("params %q are not valid JSON: %v", s, err)
	}
	return b.Bytes(), true, nil
}

// jsonValue is v as JSON: v itself when it is valid JSON (compacted),
// else v as a JSON string. A number that JSON does not allow (007, +1,
// .5, 1e, 0x1f, NaN) is an error, not silently a string.
func jsonValue(v string) ([]byte, error) {
	var b bytes.Buffer
	if json.Compact(&b, []byte(v)) == nil {
		return b.Bytes(), nil
	}
	if looksNumeric.MatchString(v) {
		return nil, fmt.Errorf("%s is not a valid JSON number (no leading zeros, +, bare dot, hex or NaN); "+
			"write it as JSON (7, 0.5) or quote it to send a string: '\"%s\"'", v, v)
	}
	s, _ := json.Marshal(v)
	return s, nil
}

// looksNumeric matches what a user means as a number but JSON does not
// allow; dates (2024-01-02) and versions (1.2.3) stay strings.
var looksNumeric = regexp.MustCompile(`^[+-]?(\d[\d_]*\.?\d*|\.\d+)([eE][+-]?\d*)?$|^[+-]?0[xXoObB][0-9a-fA-F_]+$|^[+-]?(NaN|Inf|Infinity|inf|nan)$`)

// compact returns msg as one line of compact JSON, or unchanged when it is
// not valid JSON.
func compact(msg []byte) []byte {
	var b bytes.Buffer
	if json.Compact(&b, msg) != nil {
		return msg
	}
	return b.Bytes()
}

// parseHeaders parses -H values of the form "Name: value".
func parseHeaders(values []string) (http.Header, error) {
	if len(values) == 0 {
		return nil, nil
	}
	h := make(http.Header, len(values))
	for _, v := range values {
		name, value, ok := strings.Cut(v, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") || strings.ContainsAny(value, "\r\n") {
			return nil, fmt.Errorf("-H %q: want 'Name: value'", v)
		}
		h.Add(textproto.CanonicalMIMEHeaderKey(name), strings.TrimSpace(value))
	}
	return h, nil
}

// wsURL accepts ws:// and wss:// URLs, maps http(s):// to them, and takes
// a URL without a scheme as ws://.
func wsURL(u string) (string, error) {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return "ws://" + u, nil
	}
	switch strings.ToLower(scheme) {
	case "ws", "http":
		return "ws://" + rest, nil
	case "wss", "https":
		return "wss://" + rest, nil
	}
	return "", fmt.Errorf("URL %q: use ws:// or wss://", u)
}
