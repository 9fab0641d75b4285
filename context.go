// This file owns a connection's context (connContext) and the channels made
// on first use for Done and the context's Done (connSignals).

package wsrpc

import (
	"context"
	"net/http"
	"time"
)

// connSignals are the channels of a connection that someone waits on, made
// on first use: most connections never need them.
type connSignals struct {
	ctxDone chan struct{} // made on the first ctx.Done
	ctxStop func() bool   // unregisters from the parent context
	done    chan struct{} // made on the first Done
	// handlersDone is made by a closed connection that waits for its
	// started calls to finish, and closed by the last one's finish.
	handlersDone chan struct{}
	value        any           // ConnConfig.Value (see identity.go)
	id           string        // ConnConfig.ID, when given (see identity.go); set before c is shared, never changed
	req          *http.Request // ConnConfig.Request, or the one Request parsed (see conn.go)
	closeErr     error         // why the connection closed (see lifecycle.go)
	idle         idleState     // with IdleTimeout only (see keepalive.go)
	opened       time.Duration // monoNow when Start ran, kept only when Info is logged (see logging.go); 0: not kept
}

// signalsLocked returns c.life.sig, making it (mu held).
func (c *Conn) signalsLocked() *connSignals {
	if c.life.sig == nil {
		c.life.sig = new(connSignals)
	}
	return c.life.sig
}

// connContext is a connection's context, which its handlers receive: it
// carries the Conn (ConnFromContext) and is cancelled when the connection
// closes or its parent context ends. It is the Conn itself, so a
// connection allocates no context of its own, and its Done channel is only
// made when someone asks for it.
type connContext struct{ c *Conn }

// Deadline is the parent's.
func (x connContext) Deadline() (time.Time, bool) { return x.c.parent.Deadline() }

// Value returns the Conn for connCtxKey, else the parent's value.
func (x connContext) Value(key any) any {
	if _, ok := key.(connCtxKey); ok {
		return x.c
	}
	return x.c.parent.Value(key)
}

// Done returns a channel closed when the connection closes or the parent
// context ends.
func (x connContext) Done() <-chan struct{} {
	c := x.c
	c.mu.Lock()
	sig := c.signalsLocked()
	if sig.ctxDone == nil {
		sig.ctxDone = make(chan struct{})
		if c.ctxCanceled {
			close(sig.ctxDone)
		} else if c.parent.Done() != nil {
			sig.ctxStop = context.AfterFunc(c.parent, c.cancelContext)
		}
	}
	ch := sig.ctxDone
	c.mu.Unlock()
	return ch
}

// Err is context.Canceled once the connection closed, else the parent's.
func (x connContext) Err() error {
	c := x.c
	c.mu.Lock()
	canceled := c.ctxCanceled
	c.mu.Unlock()
	if canceled {
		return context.Canceled
	}
	if err := c.parent.Err(); err != nil {
		c.cancelContext()
		return context.Canceled
	}
	return nil
}

func (x connContext) String() string { return "wsrpc.Conn(" + x.c.ID() + ").Context" }

// cancelContext cancels the connection's context. Idempotent.
func (c *Conn) cancelContext() {
	c.mu.Lock()
	var stop func() bool
	if !c.ctxCanceled {
		c.ctxCanceled = true
		if sig := c.life.sig; sig != nil {
			if sig.ctxDone != nil {
				close(sig.ctxDone)
			}
			stop, sig.ctxStop = sig.ctxStop, nil
		}
	}
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
}
