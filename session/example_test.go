package session_test

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/gobwas/ws"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/session"
)

// chanHost hands each write to a channel: a stand-in for an event loop's
// connection, whose writes queue (gnet's AsyncWrite).
type chanHost chan []byte

func (h chanHost) Write(b []byte) (int, error) { h <- append([]byte(nil), b...); return len(b), nil }
func (h chanHost) Drop()                       { close(h) }

// A Session is fed the bytes of an upgraded connection and writes framed
// bytes through its Host; the program's loop owns the socket. server.Upgrade
// makes one from an upgrade request head; here one is made by hand.
func Example() {
	reg := wsrpc.NewRegistry()
	reg.MustAdd("subtract", func(ctx context.Context, p struct{ A, B int }) int { return p.A - p.B })

	host := make(chanHost, 8)
	sess := session.New(host, &session.Config{WriteNeverBlocks: true}, false)
	// Keepalive is on by default; this example's peer answers no ping.
	noKeepalive := &wsrpc.Options{KeepaliveInterval: -1}
	conn := wsrpc.NewConn(sess, wsrpc.ConnConfig{Registry: reg, Options: noKeepalive, BatchedReads: true})
	sess.Attach(conn)
	conn.Start()

	// What a client sent, split anywhere: here a byte at a time.
	frame, _ := ws.CompileFrame(ws.MaskFrameInPlace(ws.NewTextFrame([]byte(`{"id":3,"method":"subtract","params":{"A":1,"B":9}}`))))
	for i := range frame {
		if err := sess.Feed(frame[i : i+1]); err != nil {
			fmt.Println("ended:", err)
			return
		}
	}
	select {
	case out := <-host:
		reply, _ := ws.ReadFrame(bytes.NewReader(out))
		fmt.Printf("%s\n", reply.Payload)
	case <-time.After(5 * time.Second):
		fmt.Println("no reply")
	}

	_ = conn.Close() // the close frame goes out; Drop follows the peer's answer
	closing, _ := ws.ReadFrame(bytes.NewReader(<-host))
	fmt.Println(closing.Header.OpCode == ws.OpClose)
	// Output:
	// {"id":3,"result":-8}
	// true
}
