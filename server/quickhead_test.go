package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

func TestQuickUpgrade(t *testing.T) {
	const (
		key    = "dGhlIHNhbXBsZSBub25jZQ=="
		accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" // RFC 6455 §1.3
	)
	head := func(lines ...string) []byte {
		return []byte(strings.Join(lines, "\r\n") + "\r\n\r\n")
	}
	browser := head("GET /ws/?v=1 HTTP/1.1", "Host: app.example.com:8000", "Connection: keep-alive, Upgrade",
		"Upgrade: websocket", "Origin: https://app.example.com:8000", "Sec-WebSocket-Version: 13",
		"Sec-WebSocket-Key: "+key, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64)", "Cookie: a=b; c=d")
	plain := func(extra ...string) []byte {
		return head(append([]string{"GET /ws/ HTTP/1.1", "Host: h", "Upgrade: websocket", "Connection: Upgrade",
			"Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: " + key}, extra...)...)
	}
	swap := func(old, new string) []byte { return []byte(strings.Replace(string(plain()), old, new, 1)) }
	base := &Options{Path: "/ws/"}
	tests := []struct {
		name string
		opts *Options
		head []byte
		ok   bool
		ext  string
	}{
		{"a browser's upgrade", base, browser, true, ""},
		{"with compression on", &Options{Path: "/ws/", Options: wsrpc.Options{EnableCompression: true}}, browser, true, "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"a plain client", base, plain(), true, ""},
		{"an allowed origin", &Options{AllowedOrigins: []string{"app.example.com"}}, plain("Origin: http://app.example.com"), true, ""},
		// Everything below is left to net/http (which refuses most of it).
		{"another origin", base, plain("Origin: https://evil.example"), false, ""},
		{"an origin with a path", base, plain("Origin: http://h/x"), false, ""},
		{"another path", base, swap("/ws/", "/other"), false, ""},
		{"a percent-escaped path", nil, head("GET /w%73/ HTTP/1.1", "Host: h", "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: "+key), false, ""},
		{"two keys", base, plain("Sec-WebSocket-Key: " + key), false, ""},
		{"a short key", base, swap(key, "c2hvcnQ="), false, ""},
		{"version 8", base, swap("Version: 13", "Version: 8"), false, ""},
		{"a folded header", base, plain("X-A: b", " c"), false, ""},
		{"a body header", base, plain("Content-Length: 0"), false, ""},
		{"no Host", base, head("GET /ws/ HTTP/1.1", "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: "+key), false, ""},
		{"HTTP/1.0", base, swap("HTTP/1.1", "HTTP/1.0"), false, ""},
		{"a hook that wants the request", &Options{Options: wsrpc.Options{Hooks: &wsrpc.Hooks{OnOpen: func(*http.Request) {}}}}, plain(), false, ""},
		{"Authorize", &Options{Authorize: func(*http.Request) bool { return true }}, plain(), false, ""},
		{"Identify", &Options{Identify: func(*http.Request) (string, any, error) { return "", nil, nil }}, plain(), false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(nil, tt.opts)
			gotAccept, ext, ok := s.quickUpgrade(tt.head)
			require.Equal(t, tt.ok, ok)
			if !ok {
				return
			}
			require.Equal(t, accept, gotAccept.String())
			require.Equal(t, tt.ext, ext)
			// net/http agrees.
			req, err := parseRequest(tt.head)
			require.NoError(t, err)
			slow, err := s.admit(req, true)
			require.NoError(t, err)
			require.Equal(t, admitted{accept: gotAccept, ext: ext}, slow)
		})
	}
}

func TestQuickUpgradeAllocations(t *testing.T) {
	s := New(nil, nil)
	h := []byte("GET /ws/ HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nUser-Agent: x\r\n\r\n")
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, ok := s.quickUpgrade(h); !ok {
			t.Fatal("not admitted")
		}
	})
	require.Zero(t, allocs, "a plain upgrade is admitted without allocating")
}
