package wsrpc

import (
	"errors"
	"fmt"

	"github.com/mailru/easyjson/jlexer"
	"github.com/mailru/easyjson/jwriter"
)

// EncodeEvent returns the wire message of event, as Conn.Emit would send it:
// a JSON object without an "id" member. Encode an event once and give the
// bytes to EmitEncoded on many connections (or to another node) instead of
// encoding it for each.
func EncodeEvent(event any) ([]byte, error) {
	var w jwriter.Writer
	if err := appendJSON(&w, event); err != nil {
		return nil, fmt.Errorf("wsrpc: encode event: %w", err)
	}
	msg, _ := w.BuildBytes()
	if !isObject(msg) {
		return nil, errors.New("wsrpc: an event must be a JSON object")
	}
	var f frame
	l := jlexer.Lexer{Data: msg}
	f.UnmarshalEasyJSON(&l)
	if l.Error() != nil || f.ID != nil {
		return nil, errors.New(`wsrpc: an event must be a JSON object without an "id" member`)
	}
	return msg, nil
}

// EmitEncoded queues msg, a message made by EncodeEvent, to be written to
// the peer, and returns without waiting for the write. msg is shared, not
// copied: it must not change afterwards, and the same bytes may be given to
// any number of connections. It fails with the connection's error once it
// is closed, or with ErrSendQueueFull when the peer is not reading.
func (c *Conn) EmitEncoded(msg []byte) error {
	return c.send(msg, true)
}
