// Package safely runs user code (hooks, Authorize, handlers) so that a
// panic in it is stopped and logged with its stack instead of ending the
// process: the one place both the engine and the server recover user code.
package safely

import (
	"fmt"
	"log/slog"
	"runtime/debug"
)

// Msg is the message of every log record of a recovered panic.
const Msg = "wsrpc: user code panicked"

// Recover stops a panic and logs it (see Log). It must be deferred
// directly (defer safely.Recover(...)): recover only works there. what
// names the code that ran (a hook, "Authorize", a route), conn the
// connection (its id, or the client's address before it has one).
// panicked, when not nil, is set to true after a panic.
func Recover(log *slog.Logger, what, conn string, panicked *bool) {
	p := recover()
	if p == nil {
		return
	}
	if panicked != nil {
		*panicked = true
	}
	Log(log, what, conn, p, debug.Stack())
}

// Log logs a recovered panic at Error level: the code that panicked, the
// connection, the panic value and the stack. A nil log discards it.
func Log(log *slog.Logger, what, conn string, p any, stack []byte) {
	if log == nil {
		return
	}
	log.Error(Msg, slog.String("in", what), slog.String("conn", conn),
		slog.String("panic", fmt.Sprint(p)), slog.String("stack", string(stack)))
}
