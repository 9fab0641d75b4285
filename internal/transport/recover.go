package transport

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/gobwas/ws"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

// PanicCode and PanicReason are the close frame of a connection whose read
// path panicked.
const (
	PanicCode   = int(ws.StatusInternalServerError) // 1011
	PanicReason = "internal error"
)

// Recovered turns a panic caught on a connection's read path (parsing, or
// code it runs) into the connection's cause of closing, which matches
// wsrpc.ErrReadPanic. It logs v with the stack at Error level to log, or to
// c's logger when log is nil; a logger that panics itself is ignored. The
// caller closes the connection (with PanicCode). Call it from the deferred
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

// recoverStep ends a step that panicked: the reader stops with the panic as
// its cause (loop returns it, finish closes with PanicCode).
func (rd *reader) recoverStep() {
	if v := recover(); v != nil {
		rd.perr = Recovered(rd.c, nil, v)
	}
}

// isPanic reports whether cause is a read path's panic.
func isPanic(cause error) bool { return errors.Is(cause, wsrpc.ErrReadPanic) }
