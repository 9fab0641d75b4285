package session

// The read side: bytes in, whole messages to the Conn, pings answered.
// Feed is the whole step; the steps it is made of are exported for loops
// that hand the handling of a read to another goroutine (both engines do).

import (
	"io"
	"time"

	"github.com/wsrpc/wsrpc-go/internal/crash"
	"github.com/wsrpc/wsrpc-go/internal/wsio"
)

// Feed handles bytes that arrived, in any split: each message completed
// by them goes to the Conn, pings are answered, and the replies inline
// routes produced are written before it returns (with
// Config.WriteNeverBlocks; else another goroutine writes them). b is
// unmasked in place and not kept: Feed copies what it still needs of it.
//
// A non-nil error means the session ended, and has dropped the connection
// (or will, once the close handshake is over): a *CloseError for the
// peer's close frame or a protocol violation, an error matching
// wsrpc.ErrReadPanic for a panic, and ErrEnded for bytes fed after the end.
func (s *Session) Feed(b []byte) (err error) {
	if s.has(stReadEnded) {
		return ErrEnded
	}
	defer func() {
		if v := recover(); v != nil {
			s.parser = nil // in an unknown state: not reused
			err = crash.Recovered(s.conn, nil, v)
			s.End(err)
		}
	}()
	s.Buffer(b)
	if _, err = s.Handle(0); err != nil {
		s.End(err)
		return err
	}
	s.Release(s.cfg.WriteNeverBlocks)
	return nil
}

// Buffer gives the session bytes that arrived without handling them (Ready
// then says whether a whole frame is there). When the session holds
// nothing, b is parsed in place and must stay untouched until Detach or
// Release.
func (s *Session) Buffer(b []byte) { s.reading().Feed(b) }

// Detach makes the session keep a copy of what it still needs of the bytes
// given to Buffer, so that the caller may reuse them.
func (s *Session) Detach() {
	if p := s.parser; p != nil {
		p.Detach()
	}
}

// Ready reports whether the session holds a whole frame (or an error) to
// handle.
func (s *Session) Ready() bool { return s.parser != nil && s.parser.Ready() }

// Need returns how many more bytes the frame under way needs (0 when none
// is); a large value means a big frame: ReadSome reads it straight into the
// session's buffer.
func (s *Session) Need() int {
	if s.parser == nil {
		return 0
	}
	return s.parser.Need()
}

// ReadSome reads once from r into the session's own buffer, with room for
// up to want more bytes, for a big frame under way (see Need). The buffer
// grows with what arrives, not with what a header claims. It returns r's
// error only when nothing was read.
func (s *Session) ReadSome(r io.Reader, want int) error { return s.reading().ReadSome(r, want) }

// budgetStride is how many messages Handle handles between two looks at
// the clock: a slow route costs a read at most that many of its calls
// before the rest goes to a worker (and the route's own InlineBudget
// demotes it).
const budgetStride = 4

// Handle hands the whole messages the session holds to the Conn. With a
// positive budget it stops once they took longer than that (looking at
// the clock every budgetStride messages), and reports
// more when a further whole frame waits (hand it to a worker). A non-nil
// error is why reading must stop: pass it to End (where the close hooks
// may run: off an event loop's goroutine if they may block).
func (s *Session) Handle(budget time.Duration) (more bool, err error) {
	p := s.parser
	if p == nil {
		return false, nil
	}
	var start time.Time
	if budget > 0 {
		start = time.Now()
	}
	for n := 1; ; n++ {
		text, payload, ok, err := p.Next()
		if err != nil {
			s.parser = nil // it may refer to the caller's bytes: not reused
			return false, err
		}
		if !ok {
			return false, nil
		}
		if text {
			s.conn.HandleMessage(payload)
			// The clock is read after every budgetStride messages, not
			// after each: reading it costs as much as a small call.
			if budget > 0 && n%budgetStride == 0 && p.Ready() && time.Since(start) > budget {
				return true, nil
			}
		}
	}
}

// Release ends the handling of one read: the session lets go of the bytes
// given to Buffer (its parser goes back to the pool when it holds nothing)
// and the replies inline routes produced meanwhile are written, on the
// calling goroutine with wait, else by another goroutine.
func (s *Session) Release(wait bool) {
	if p := s.parser; p != nil {
		p.Detach()
		if p.Idle() {
			s.parser = nil
			parsers.Put(p)
		}
	}
	if s.conn != nil {
		_ = s.conn.Flush(wait)
	}
}

// reading returns the session's parser, lending one from the pool if it
// has none.
func (s *Session) reading() *wsio.Parser {
	p := s.parser
	if p == nil {
		p = parsers.Get().(*wsio.Parser)
		p.Reset(s.cfg.side(), s.cfg.limits())
		if s.has(stDeflate) {
			p.EnableDeflate()
		}
		p.SetPingHandler((*pinged)(s))
		s.parser = p
	}
	return p
}
