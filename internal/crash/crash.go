// Package crash turns a panic on a connection's read path into that
// connection's cause of closing: the session core, both engines and the
// client share it.
package crash

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/gobwas/ws"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

// Code and Reason are the close frame of a connection whose read path
// panicked.
const (
	Code   = int(ws.StatusInternalServerError) // 1011
	Reason = "internal error"
)

// Recovered turns a panic caught on a connection's read path (parsing, or
// code it runs) into the connection's cause of closing, which matches
// wsrpc.ErrReadPanic. It logs v with the stack at Error level to log, or to
// c's logger when log is nil; a logger that panics itself is ignored. The
// caller closes the connection (with Code). Call it from the deferred
// function that recovered, so that the stack is the panic's.
func Recovered(c *wsrpc.Conn, log *slog.Logger, v any) error {
	if log == nil && c != nil {
		log = c.Logger()
	}
	if log != nil {
		id := ""
		if c != nil {
			id = c.ID()
		}
		func() {
			defer func() { _ = recover() }() // the log line is not worth a crash
			log.Error("wsrpc: panic on a connection's read path, closing that connection with 1011",
				"conn", id, "panic", v, "stack", string(debug.Stack()))
		}()
	}
	return fmt.Errorf("%w: %v", wsrpc.ErrReadPanic, v)
}

// IsPanic reports whether cause is a read path's panic.
func IsPanic(cause error) bool { return errors.Is(cause, wsrpc.ErrReadPanic) }
