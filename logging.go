// This file owns the engine's logs of a connection's life and of its calls:
// one Info line when it opens and one when it closes, one Debug line per
// call. Nothing is logged per call at Info or above.

package wsrpc

import (
	"context"
	"log/slog"
	"time"
)

// logs reports whether the logger may emit records of level: a cheap
// pointer check first, so that the default logger costs a call nothing.
func (c *Conn) logs(level slog.Level) bool {
	l := c.opts.Logger
	return l != discardLogger && l.Enabled(context.Background(), level)
}

// logOpen logs the connection's opening at Info and notes when it opened,
// for the duration logClose reports.
func (c *Conn) logOpen() {
	if !c.logs(slog.LevelInfo) {
		return
	}
	now := monoNow()
	c.mu.Lock()
	c.signalsLocked().opened = max(now, 1)
	c.mu.Unlock()
	c.opts.Logger.LogAttrs(context.Background(), slog.LevelInfo, "wsrpc: connection opened",
		slog.String("conn", c.ID()), slog.String("remote", c.remoteString()), slog.String("role", c.roleString()))
}

// logClose logs the connection's end at Info: how long it lasted and why
// it ended (CloseReason, and the error when there is one).
func (c *Conn) logClose(cause error) {
	if !c.logs(slog.LevelInfo) {
		return
	}
	attrs := []slog.Attr{slog.String("conn", c.ID()), slog.String("remote", c.remoteString()), slog.String("role", c.roleString())}
	c.mu.Lock()
	var opened time.Duration
	if c.life.sig != nil {
		opened = c.life.sig.opened
	}
	c.mu.Unlock()
	if opened != 0 {
		attrs = append(attrs, slog.Duration("duration", monoNow()-opened))
	}
	attrs = append(attrs, slog.String("reason", CloseReason(c, cause)))
	if cause != nil {
		attrs = append(attrs, slog.String("err", cause.Error()))
	}
	c.opts.Logger.LogAttrs(context.Background(), slog.LevelInfo, "wsrpc: connection closed", attrs...)
}

// logCall logs an incoming call at Debug: its method, id, how long it took
// and its outcome.
func (c *Conn) logCall(j *callJob, took time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = ReplyType(err)
	}
	c.opts.Logger.LogAttrs(context.Background(), slog.LevelDebug, "wsrpc: call",
		slog.String("conn", c.ID()), slog.String("method", j.method), slog.String("id", string(j.id)),
		slog.Duration("took", took), slog.String("outcome", outcome))
}

func (c *Conn) remoteString() string {
	if a := c.RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}

func (c *Conn) roleString() string {
	if c.role == RoleClient {
		return "client"
	}
	return "server"
}
