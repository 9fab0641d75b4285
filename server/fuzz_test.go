package server

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/internal/wsio"
)

// FuzzHandshake feeds arbitrary bytes, in chunks, to the upgrade path that
// Serve and the netpoll engine run on what a client sends before the
// upgrade: accumulation with its size bound, request parsing, the upgrade
// and origin checks, extension negotiation and the compaction of the kept
// head. Nothing may panic, the size bound must hold, an accepted upgrade
// must carry a valid accept key, a head the quick upgrade admits must be
// admitted by the net/http way with the same answer, and a compacted head
// must still parse.
func FuzzHandshake(f *testing.F) {
	valid := "GET /ws/ HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	f.Add([]byte(valid+"\r\n"), uint8(7))
	f.Add([]byte(valid+"Origin: http://evil\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n\x81\x85"), uint8(1))
	f.Add([]byte("POST / HTTP/1.0\r\n\r\n"), uint8(3))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n"), uint8(30))
	f.Add([]byte(strings.Repeat("X", 600)), uint8(200))
	s := New(nil, &Options{Options: wsrpc.Options{EnableCompression: true}, AllowedOrigins: []string{"app.example.com"}})
	onPath := New(nil, &Options{Path: "/ws/", AllowedOrigins: []string{"*"}})
	f.Add([]byte(valid+"Origin: http://h\r\n\r\n"), uint8(64))
	f.Add([]byte("GET /ws/?a=b HTTP/1.1\r\nhost: h:80\r\nconnection: keep-alive, Upgrade\r\nupgrade: WebSocket\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\nOrigin: https://app.example.com\r\n\r\n"), uint8(64))
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		const max = 512
		hs := handshake{max: max}
		chunk := int(step%64) + 1
		var complete bool
		var rest []byte
		var err error
		for i := 0; i < len(in) && !complete && err == nil; i += chunk {
			complete, rest, err = hs.feed(in[i:min(i+chunk, len(in))])
		}
		if err != nil || !complete {
			if len(hs.buf) > max+chunk {
				t.Fatalf("accumulated %d bytes past the bound of %d", len(hs.buf), max)
			}
			return
		}
		if len(hs.buf) > max {
			t.Fatalf("a complete head of %d bytes passed the bound of %d", len(hs.buf), max)
		}
		if !bytes.HasSuffix(hs.buf, []byte("\r\n\r\n")) || len(rest) > len(in) {
			t.Fatalf("head %q rest %q", hs.buf, rest)
		}
		// Whatever the quick upgrade admits, the full admission (net/http
		// and admit) admits too, with the same answer; admitHead, the one
		// entry of Serve and ServeConn, agrees with both.
		for _, srv := range []*Server{s, onPath} {
			full, fullErr := srv.admitHead(nil, hs.buf, time.Now().Add(time.Second))
			accept, ext, ok := srv.quickUpgrade(hs.buf)
			if !ok {
				continue
			}
			if fullErr != nil || full.accept != accept || full.ext != ext {
				t.Fatalf("admitHead answers %+v, %v to %q, which the quick upgrade admits", full, fullErr, hs.buf)
			}
			req, err := parseRequest(hs.buf)
			if err != nil {
				t.Fatalf("quick upgrade admitted %q, which net/http does not parse: %v", hs.buf, err)
			}
			slow, err := srv.admit(req, true)
			if err != nil || slow.accept != accept || slow.ext != ext || slow.identity != (identity{}) {
				t.Fatalf("quick upgrade admitted %q (accept %q, ext %q); the full checks say %+v, %v", hs.buf, accept, ext, slow, err)
			}
		}
		req, err := parseRequest(hs.buf)
		if err != nil {
			return
		}
		_ = s.originAllowed(req)
		if accept, err := checkUpgrade(req); err == nil {
			if len(accept) != 28 {
				t.Fatalf("accept key %q", accept)
			}
			_ = switchingProtocols(nil, accept, s.negotiate(req))
		}
		_ = wsio.NegotiateDeflate(req.Header.Values(wsio.ExtensionHeader))
		kept := compactHead(hs.buf)
		r2, err := parseRequest(kept)
		if err != nil {
			t.Fatalf("the compacted head %q of %q does not parse: %v", kept, hs.buf, err)
		}
		for name := range req.Header {
			drop := false
			for _, h := range handshakeOnly {
				drop = drop || http.CanonicalHeaderKey(h) == name
			}
			if !drop && r2.Header.Get(name) != req.Header.Get(name) {
				t.Fatalf("header %s lost: %q → %q", name, hs.buf, kept)
			}
		}
	})
}
