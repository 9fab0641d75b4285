package server

import (
	"log/slog"

	"github.com/wsrpc/wsrpc-go/internal/crash"
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
	conn := pc.sess.Conn()
	var log *slog.Logger // the connection's own, once there is one
	if conn == nil {
		log = pc.p.srv.opts.Logger
	}
	err := crash.Recovered(conn, log, v)
	if conn == nil {
		pc.shutdown(err)
		return
	}
	pc.sess.End(err) // 1011; the session's parser, in an unknown state, is dropped
}
