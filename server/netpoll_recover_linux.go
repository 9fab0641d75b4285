package server

import (
	"log/slog"

	"github.com/wsrpc/wsrpc-go/internal/transport"
)

// recoverData ends a connection whose data path (its handshake, the parser,
// or code they run) panicked: the panic is logged with its stack, the parser
// is dropped, and the connection alone closes with 1011 while the poller goes
// on with the others. Deferred by onData.
func (pc *pconn) recoverData() {
	v := recover()
	if v == nil {
		return
	}
	pc.parser = nil // in an unknown state: not reused
	conn := pc.conn
	var log *slog.Logger // the connection's own, once there is one
	if conn == nil {
		log = pc.p.srv.engine.Logger
	}
	err := transport.Recovered(conn, log, v)
	if conn == nil {
		pc.shutdown(err)
		return
	}
	_ = conn.CloseWithError(transport.PanicCode, transport.PanicReason, err)
}
