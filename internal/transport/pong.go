package transport

import (
	"fmt"
	"sync"
	"time"
)

// pongs answers the pings of one connection from a goroutine of its own, so
// that the reader never waits on a peer that does not read: replies behind
// a ping are handled meanwhile. While a pong is on its way, later pings
// replace each other and only the latest is answered next (RFC 6455
// §5.5.3), so a ping flood costs one payload and one goroutine at most.
type pongs struct {
	mu        sync.Mutex
	next, out []byte // the latest ping's payload; the one being answered
	has, busy bool   // next is unanswered; a writer runs
}

// OnPing answers a ping (wsio.PingHandler). Only the reader calls it (from
// the step it runs), one call at a time.
func (rd *reader) OnPing(payload []byte) {
	ps := rd.pongs
	if ps == nil {
		ps = new(pongs)
		rd.pongs = ps
	}
	ps.mu.Lock()
	ps.next, ps.has = append(ps.next[:0], payload...), true
	start := !ps.busy
	ps.busy = true
	ps.mu.Unlock()
	if start {
		go rd.writePongs(ps)
	}
}

// writePongs writes the pending pong until none is left. A pong is an
// ordinary write: it waits its turn behind the write under way and then has
// the write timeout, like any other. If it fails, the connection is closed,
// as after any failed write (the stream may hold half a frame).
func (rd *reader) writePongs(ps *pongs) {
	for {
		ps.mu.Lock()
		if !ps.has {
			ps.busy = false
			ps.mu.Unlock()
			return
		}
		ps.next, ps.out, ps.has = ps.out[:0], ps.next, false
		ps.mu.Unlock()
		if err := rd.s.w.WritePong(ps.out); err != nil {
			ps.mu.Lock()
			ps.busy, ps.has = false, false
			ps.mu.Unlock()
			rd.c.CloseWithError(closeInternal, "", fmt.Errorf("write pong: %w", err))
			return
		}
	}
}

// closeInternal is the close code after a failed write.
const closeInternal = 1011

// timedWriter is a Stream as the io.Writer its wsio.Writer writes to: each
// write sets its own deadline, under the wsio.Writer's lock, so that no
// write extends the deadline of another one under way.
type timedWriter Stream

// Write writes b with the write timeout, or CloseTimeout once Close began.
func (tw *timedWriter) Write(b []byte) (int, error) {
	s := (*Stream)(tw)
	if !s.closing.Load() {
		_ = s.nc.SetWriteDeadline(time.Now().Add(s.writeTimeout))
	}
	if s.closing.Load() {
		// Close may have cut the deadline short just before the line
		// above moved it: cut it again.
		_ = s.nc.SetWriteDeadline(time.Now().Add(CloseTimeout))
	}
	return s.nc.Write(b)
}
