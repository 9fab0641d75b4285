package server

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCompactHead(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"nil stays nil", "", ""},
		{"handshake headers dropped",
			"GET /ws/?a=1 HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nsec-websocket-key: k\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\nX-Token: t\r\nCookie: a=b\r\n\r\n",
			"GET /ws/?a=1 HTTP/1.1\r\nHost: h\r\nX-Token: t\r\nCookie: a=b\r\n\r\n"},
		{"subprotocol kept",
			"GET / HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Protocol: p\r\n\r\n",
			"GET / HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Protocol: p\r\n\r\n"},
		{"folded lines keep everything",
			"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n x\r\n\r\n",
			"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n x\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var in []byte
			if tc.in != "" {
				in = []byte(tc.in)
			}
			out := compactHead(in)
			if tc.in == "" {
				require.Nil(t, out)
				return
			}
			require.Equal(t, tc.want, string(out))
			require.Equal(t, len(out), cap(out), "exact size")
			req, err := parseRequest(out)
			require.NoError(t, err, "the compacted head still parses")
			require.Equal(t, "h", req.Host)
		})
	}
}
