package wsrpc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
)

// Identity: a connection's id is a random UUID, kept as its 16 bytes and
// formatted when asked (ID, AppendID), unless the server gave one at
// admission (ConnConfig.ID), with a value for its handlers
// (ConnConfig.Value), in place of the upgrade request they would otherwise
// parse again. A given id, the value and a parsed request live in the
// connection's lazily made signals record, so that a connection without
// them pays nothing for the feature.

// setIdentity records the id, value and request a connection is made with
// (no other goroutine sees c yet, so no lock is needed).
func (c *Conn) setIdentity(id string, v any, req *http.Request) {
	if id != "" || v != nil || req != nil {
		c.life.sig = &connSignals{id: id, value: v, req: req}
	}
	if id == "" {
		c.uuid = newUUID()
	}
}

// ID returns the connection id: a random UUID unless the transport set one.
// A random one is formatted on each call; AppendID formats it without
// allocating.
func (c *Conn) ID() string {
	if c.uuid == ([16]byte{}) {
		return c.life.sig.id // set by NewConn, never changed: no lock needed
	}
	var b [36]byte
	return string(appendUUID(b[:0], &c.uuid))
}

// AppendID appends the connection id (as ID returns it) to b and returns
// the extended buffer.
func (c *Conn) AppendID(b []byte) []byte {
	if c.uuid == ([16]byte{}) {
		return append(b, c.life.sig.id...)
	}
	return appendUUID(b, &c.uuid)
}

// logID is the connection id for a log record, formatted only when the
// record is written.
func (c *Conn) logID() slog.LogValuer { return connLogID{c} }

type connLogID struct{ c *Conn }

func (x connLogID) LogValue() slog.Value { return slog.StringValue(x.c.ID()) }

// newUUID returns a random (version 4) UUID.
func newUUID() [16]byte {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return b
}

// appendUUID appends u in its canonical text form (36 characters).
func appendUUID(dst []byte, u *[16]byte) []byte {
	var out [36]byte
	hex.Encode(out[0:8], u[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], u[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], u[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], u[8:10])
	out[23] = '-'
	hex.Encode(out[24:], u[10:])
	return append(dst, out[:]...)
}

// Value returns the value the server gave this connection when it admitted
// it (the server's Options.Identify), or nil.
func (c *Conn) Value() any {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.life.sig == nil {
		return nil
	}
	return c.life.sig.value
}

// PeerValue returns the Value of the connection a handler's ctx belongs to,
// or nil outside a connection or when the server gave none.
func PeerValue(ctx context.Context) any {
	if c := ConnFromContext(ctx); c != nil {
		return c.Value()
	}
	return nil
}
