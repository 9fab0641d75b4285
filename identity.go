package wsrpc

import "context"

// Identity: a server may give each connection, at admission, its id
// (ConnConfig.ID) and a value for its handlers (ConnConfig.Value), in place
// of the upgrade request they would otherwise parse again. The value lives
// in the connection's lazily made signals record, so that a connection
// without one pays nothing for the feature.

// setValue records v on a connection being made (no other goroutine sees
// c yet, so no lock is needed).
func (c *Conn) setValue(v any) {
	if v != nil {
		c.life.sig = &connSignals{value: v}
	}
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
