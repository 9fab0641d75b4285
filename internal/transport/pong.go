package transport

import (
	"fmt"
	"sync"
	"time"
)

// Pongs answers the pings of one connection from a goroutine of its own,
// so that its reader (a stream's goroutine, or a netpoll poller) never
// waits on a peer that does not read: replies behind a ping are handled
// meanwhile. While a pong is on its way, later pings replace each other and
// only the latest is answered next (RFC 6455 §5.5.3), so a ping flood costs
// one payload and one goroutine at most. Both engines and the client use it.
type Pongs struct {
	mu        sync.Mutex
	next, out []byte // the latest ping's payload; the one being answered
	has, busy bool   // next is unanswered; a writer runs
}

// PongWriter is where Pongs writes: WritePong is an ordinary write (it
// waits its turn behind the write under way and has the write timeout), and
// PongFailed closes the connection after a pong could not be written (the
// stream may hold half a frame).
type PongWriter interface {
	WritePong(payload []byte) error
	PongFailed(err error)
}

// Answer queues a pong for payload (copied) and starts the writer if none
// runs. Only the connection's reader calls it, one call at a time.
func (ps *Pongs) Answer(payload []byte, w PongWriter) {
	ps.mu.Lock()
	ps.next, ps.has = append(ps.next[:0], payload...), true
	start := !ps.busy
	ps.busy = true
	ps.mu.Unlock()
	if start {
		go ps.write(w)
	}
}

// write writes the pending pong until none is left.
func (ps *Pongs) write(w PongWriter) {
	for {
		ps.mu.Lock()
		if !ps.has {
			ps.busy = false
			ps.mu.Unlock()
			return
		}
		ps.next, ps.out, ps.has = ps.out[:0], ps.next, false
		ps.mu.Unlock()
		if err := w.WritePong(ps.out); err != nil {
			ps.mu.Lock()
			ps.busy, ps.has = false, false
			ps.mu.Unlock()
			w.PongFailed(fmt.Errorf("write pong: %w", err))
			return
		}
	}
}

// OnPing answers a ping (wsio.PingHandler).
func (rd *reader) OnPing(payload []byte) {
	if rd.pongs == nil {
		rd.pongs = new(Pongs)
	}
	rd.pongs.Answer(payload, (*streamPongs)(rd))
}

// streamPongs is a stream's reader as the PongWriter of its pongs.
type streamPongs reader

func (sp *streamPongs) WritePong(payload []byte) error { return sp.s.w.WritePong(payload) }

func (sp *streamPongs) PongFailed(err error) { sp.c.CloseWithError(closeInternal, "", err) }

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
