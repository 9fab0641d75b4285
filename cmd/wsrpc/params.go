package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
)

// parseParams turns the PARAMS arguments into the call's params: one JSON
// object or array as it is, or key=value pairs as an object (each value
// JSON when it parses, else a string). No arguments give {}.
func parseParams(args []string) (json.RawMessage, error) {
	if len(args) == 0 {
		return json.RawMessage("{}"), nil
	}
	if len(args) == 1 {
		if raw, ok, err := jsonContainer(args[0]); ok || err != nil {
			return raw, err
		}
	}
	var b bytes.Buffer
	b.WriteByte('{')
	seen := make(map[string]bool, len(args))
	for i, arg := range args {
		key, value, ok := strings.Cut(arg, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("params %q: want one JSON object or array, or key=value pairs", arg)
		}
		if seen[key] {
			return nil, fmt.Errorf("params: key %q given twice", key)
		}
		seen[key] = true
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(jsonValue(value))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
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
// else v as a JSON string.
func jsonValue(v string) []byte {
	var b bytes.Buffer
	if json.Compact(&b, []byte(v)) == nil {
		return b.Bytes()
	}
	s, _ := json.Marshal(v)
	return s
}

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
