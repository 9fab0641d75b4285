package client

import (
	"encoding/json"
	"errors"
	"log/slog"
	"sync"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

// ErrEventQueueFull is the reason a connection is closed (code 1008) when
// the server sends events faster than Options.OnEvent handles them and the
// events waiting pass MaxQueuedBytes. Make OnEvent quicker (hand slow work
// to a goroutine of your own), or raise MaxQueuedBytes.
var ErrEventQueueFull = errors.New("wsrpc client: event queue full: OnEvent is slower than the server's events")

// eventQueue hands the events of the client's connections to OnEvent on a
// goroutine of its own, in arrival order, so that a slow handler never
// holds up the reader (and the replies behind the event). The goroutine
// runs only while events wait.
type eventQueue struct {
	fn    func(*wsrpc.Conn, json.RawMessage)
	log   *slog.Logger
	limit int64

	mu      sync.Mutex // protects the following
	q       []queuedEvent
	bytes   int64 // of the events in q
	busy    bool  // the goroutine runs
	refused *wsrpc.Conn
}

type queuedEvent struct {
	c  *wsrpc.Conn
	ev json.RawMessage
}

// push queues a copy of ev (the engine's OnEvent; ev is only valid during
// the call).
func (q *eventQueue) push(c *wsrpc.Conn, ev json.RawMessage) {
	q.mu.Lock()
	if int64(len(ev)) > q.limit-q.bytes {
		first := q.refused != c
		q.refused = c
		q.mu.Unlock()
		if first {
			q.log.Warn("wsrpc client: event queue full, closing the connection", "conn", c.ID(), "queued_bytes", q.limit)
			// Not on the reader's goroutine: closing writes.
			go c.CloseWithError(closePolicyViolated, "event queue full", ErrEventQueueFull)
		}
		return
	}
	q.q = append(q.q, queuedEvent{c: c, ev: append(json.RawMessage(nil), ev...)})
	q.bytes += int64(len(ev))
	start := !q.busy
	q.busy = true
	q.mu.Unlock()
	if start {
		go q.run()
	}
}

// run delivers queued events until none is left.
func (q *eventQueue) run() {
	for {
		q.mu.Lock()
		if len(q.q) == 0 {
			q.q = nil // an idle client keeps no buffer
			q.busy = false
			q.mu.Unlock()
			return
		}
		e := q.q[0]
		q.q[0] = queuedEvent{}
		q.q = q.q[1:]
		q.mu.Unlock()
		q.deliver(e)
		q.mu.Lock()
		q.bytes -= int64(len(e.ev))
		q.mu.Unlock()
	}
}

func (q *eventQueue) deliver(e queuedEvent) {
	defer func() {
		if p := recover(); p != nil {
			q.log.Error("wsrpc client: OnEvent panicked", "conn", e.c.ID(), "panic", p)
		}
	}()
	q.fn(e.c, e.ev)
}

// closePolicyViolated is the close code of a connection whose events
// overflow the queue.
const closePolicyViolated = 1008
