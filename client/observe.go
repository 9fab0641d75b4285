package client

import (
	"io"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/internal/transport"
	"github.com/wsrpc/wsrpc-go/internal/wsio"
)

// observer shows Options.OnMessage every text message of one connection.
// It sits outside the engine: received messages are parsed a second time
// from the bytes the transport reads, and sent ones are seen as they go to
// the transport, so a client without OnMessage pays nothing.
type observer struct {
	fn   func(sent bool, msg []byte)
	r    io.Reader
	p    *wsio.Parser
	dead bool // the stream ended or broke: nothing more to show
}

// newObserver returns nil when fn is nil; every method works on nil.
func newObserver(fn func(sent bool, msg []byte), r io.Reader, maxMessage int64) *observer {
	if fn == nil {
		return nil
	}
	return &observer{fn: fn, r: r, p: wsio.NewParser(wsio.Client, wsio.Limits{MaxMessageSize: maxMessage})}
}

// reader returns r, or r watched by o.
func (o *observer) reader(r io.Reader) io.Reader {
	if o == nil {
		return r
	}
	return o
}

// enableDeflate follows the connection's permessage-deflate.
func (o *observer) enableDeflate() {
	if o != nil {
		o.p.EnableDeflate()
	}
}

// transport returns st, or st with its writes watched by o.
func (o *observer) transport(st *transport.Stream) wsrpc.Transport {
	if o == nil {
		return st
	}
	return &observedStream{Stream: st, fn: o.fn}
}

// Read reads for the transport and shows each complete text message before
// the transport's own parser sees it. Frames from the server are not
// masked, so parsing them in place leaves b as it was read.
func (o *observer) Read(b []byte) (int, error) {
	n, err := o.r.Read(b)
	if n > 0 && !o.dead {
		o.p.Feed(b[:n])
		for {
			text, msg, ok, perr := o.p.Next()
			if perr != nil {
				o.dead = true // the transport's parser reports it
				break
			}
			if !ok {
				break
			}
			if text {
				o.fn(false, msg)
			}
		}
		o.p.Detach()
	}
	return n, err
}

// observedStream is a transport.Stream whose sent messages are shown first.
// Embedding keeps the Stream's RemoteAddr and LocalAddr for the engine.
type observedStream struct {
	*transport.Stream
	fn func(sent bool, msg []byte)
}

// WriteMessages implements wsrpc.Transport.
func (s *observedStream) WriteMessages(msgs [][]byte) error {
	for _, m := range msgs {
		s.fn(true, m)
	}
	return s.Stream.WriteMessages(msgs)
}
