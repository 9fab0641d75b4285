package wsrpc

import (
	"errors"
	"log/slog"
)

// ErrReadPanic is the cause (Conn.Err, the OnClose hook) of a connection
// closed with code 1011 because code on its read path panicked: a bug in the
// library, or in user code that runs there (a Logger's handler, say). Only
// that connection is closed; the panic is logged with its stack at Error
// level. Please report it with that log line.
var ErrReadPanic = errors.New("wsrpc: the connection's read path panicked (a bug, logged with its stack); the connection was closed with code 1011")

// Logger returns the logger of the connection's Options (one that discards
// everything when none was set), for transports that log about it.
func (c *Conn) Logger() *slog.Logger { return c.opts.Logger }
