package session

import (
	"fmt"
	"sync"

	"github.com/gobwas/ws"
)

// The pong policy (RFC 6455 §5.5.3): a ping is answered by a pong with its
// payload. When writes may block, pongs are written from a goroutine that
// runs only while one is on its way, so that the reader never waits on a
// peer that does not read: replies behind a ping are handled meanwhile.
// While a pong is on its way, later pings replace each other and only the
// latest is answered next, so a ping flood costs one payload and one
// goroutine at most. With Config.WriteNeverBlocks the pong is queued at
// once on the reader's goroutine.

// pinged is a Session as the wsio.PingHandler of its parser.
type pinged Session

// OnPing answers a ping; only the reader calls it, one call at a time.
func (pg *pinged) OnPing(payload []byte) {
	s := (*Session)(pg)
	if s.cfg.WriteNeverBlocks {
		if err := s.w.WritePong(s.host, payload); err != nil {
			s.pongFailed(fmt.Errorf("write pong: %w", err))
		}
		return
	}
	if s.pongs == nil {
		s.pongs = new(pongs)
	}
	s.pongs.answer(payload, s)
}

// pongFailed closes the connection after a pong could not be written (the
// stream may hold half a frame).
func (s *Session) pongFailed(err error) {
	if c := s.conn; c != nil {
		_ = c.CloseWithError(int(ws.StatusInternalServerError), "", err)
		return
	}
	s.drop()
}

// pongs answers the pings of one session off its reader.
type pongs struct {
	mu        sync.Mutex
	next, out []byte // the latest ping's payload; the one being answered
	has, busy bool   // next is unanswered; a writer runs
}

// answer queues a pong for payload (copied) and starts the writer if none
// runs.
func (ps *pongs) answer(payload []byte, s *Session) {
	ps.mu.Lock()
	ps.next, ps.has = append(ps.next[:0], payload...), true
	start := !ps.busy
	ps.busy = true
	ps.mu.Unlock()
	if start {
		go ps.write(s)
	}
}

// write writes the pending pong until none is left.
func (ps *pongs) write(s *Session) {
	for {
		ps.mu.Lock()
		if !ps.has {
			ps.busy = false
			ps.mu.Unlock()
			return
		}
		ps.next, ps.out, ps.has = ps.out[:0], ps.next, false
		ps.mu.Unlock()
		if err := s.w.WritePong(s.host, ps.out); err != nil {
			ps.mu.Lock()
			ps.busy, ps.has = false, false
			ps.mu.Unlock()
			s.pongFailed(fmt.Errorf("write pong: %w", err))
			return
		}
	}
}
