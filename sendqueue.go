// This file owns the send queue: the only place that decides when to write.

package wsrpc

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
)

// outMsg is one queued message; pool is set when its buffer goes back to
// bufPool after the write.
type outMsg struct {
	b    []byte
	pool *[]byte
}

// QueuedMessageOverhead is what MaxSendQueueBytes charges for each queued
// message on top of the capacity of the buffer that holds it: the queue
// entry and its write vector (which grow by doubling), and the box of a
// pooled buffer. A message is charged its buffer's capacity, not its
// length: a 20-byte reply in a 512-byte pooled buffer holds 512 bytes.
const QueuedMessageOverhead = 128

// footprint is what m holds while it is queued.
func (m *outMsg) footprint() int64 { return int64(cap(m.b)) + QueuedMessageOverhead }

// send queues msg and writes the queue. With async, a goroutine does the
// writing so that the caller (the reader) never blocks on the network.
func (c *Conn) send(msg []byte, async bool) error {
	mode := sendNow
	if async {
		mode = sendAsync
	}
	return c.enqueue(outMsg{b: msg}, mode, false)
}

// How enqueue writes.
const (
	sendNow   = iota // write on the calling goroutine
	sendAsync        // write on a worker (the caller is a reader)
	sendClaim        // leave the write to the caller: enqueue returns errFlushClaimed
)

// errFlushClaimed is what enqueue returns in sendClaim mode when the
// message is queued and the caller must call flush (fanout.go).
var errFlushClaimed = errors.New("wsrpc: flush claimed")

// maxDeferred bounds the replies left queued for a chained call to carry.
const maxDeferred = 64

// enqueue queues m and writes the queue, unless defer is set and a chained
// call will write it soon.
func (c *Conn) enqueue(m outMsg, mode int, deferWrite bool) error {
	return c.enqueueAs(m, false, mode, deferWrite)
}

// enqueueCopy is enqueue of a message whose bytes the caller keeps: they
// are copied, into the send buffers' arena when they fit (see sendBufs),
// else into a pooled buffer. An inline call's reply takes this path, so
// that its buffer stays with its job.
func (c *Conn) enqueueCopy(msg []byte, mode int, deferWrite bool) error {
	return c.enqueueAs(outMsg{b: msg}, true, mode, deferWrite)
}

// enqueueAs is enqueue and enqueueCopy (copyIn): the one place that charges
// a message to MaxSendQueueBytes and decides whether to write.
func (c *Conn) enqueueAs(m outMsg, copyIn bool, mode int, deferWrite bool) error {
	c.out.mu.Lock()
	if c.wclosed {
		c.out.mu.Unlock()
		return c.Err()
	}
	if c.out.sb == nil {
		c.out.sb = sendBufsPool.Get().(*sendBufs)
	}
	sb := c.out.sb
	room := c.opts.MaxSendQueueBytes - c.out.bytes
	if copyIn {
		m = sb.place(m.b, room)
	}
	cost := m.footprint()
	if cost > room {
		if copyIn {
			sb.unplace(m)
		}
		c.out.mu.Unlock()
		go c.closeWith(ErrSendQueueFull, closePolicyViolated, "send queue full: the peer is not reading")
		return ErrSendQueueFull
	}
	sb.q = append(sb.q, m)
	c.out.bytes += cost
	if c.flushing || deferWrite && len(sb.q) < maxDeferred {
		c.out.mu.Unlock()
		return nil
	}
	c.flushing = true
	c.out.mu.Unlock()
	switch mode {
	case sendAsync:
		c.pool.flush(c)
		return nil
	case sendClaim:
		return errFlushClaimed
	}
	return c.flush()
}

// flush writes batches until the queue is empty. Only one flush runs at a
// time (c.flushing); messages queued meanwhile go out in its next batch.
func (c *Conn) flush() error {
	// When other calls of this connection are running, let them finish
	// first so that their replies join this write instead of costing a
	// write each. A lone call writes at once.
	c.mu.Lock()
	busy := c.sched.running > 1
	c.mu.Unlock()
	if busy {
		runtime.Gosched()
	}
	c.out.mu.Lock()
	for c.out.sb != nil && len(c.out.sb.q) > 0 && !c.wclosed {
		sb := c.out.sb
		batch := sb.q
		sb.q = sb.spare[:0]
		// The batch holds the arena's copies; what is queued from now on is
		// copied into the other one, whose batch was written.
		sb.arena, sb.spareArena = sb.spareArena[:0], sb.arena
		vec := sb.vec[:0]
		for _, m := range batch {
			vec = append(vec, m.b)
		}
		c.out.mu.Unlock()
		err := c.t.WriteMessages(vec)
		if h := c.opts.Hooks; err == nil && h != nil && h.OnMessage != nil {
			for _, m := range vec {
				c.hookMessage(h.OnMessage, true, m)
			}
		}
		var n int64
		for i := range batch {
			n += batch[i].footprint()
			if batch[i].pool != nil {
				putBuf(batch[i].pool)
			}
			batch[i] = outMsg{}
			vec[i] = nil
		}
		c.out.mu.Lock()
		c.out.bytes -= n
		// Keep the small slices for the next batch; drop big ones so an
		// idle connection does not pin them.
		if cap(batch) <= 64 {
			sb.spare, sb.vec = batch[:0], vec[:0]
		} else {
			// sb.q may be on either array: the spare starts again on the
			// heap, the vector on its own array.
			sb.spare, sb.vec = nil, sb.va[:0]
		}
		if err != nil {
			c.flushing = false
			c.out.mu.Unlock()
			c.closeWith(fmt.Errorf("write: %w", err), closeInternal, "")
			return c.Err()
		}
	}
	if sb := c.out.sb; sb != nil && len(sb.q) == 0 {
		// Idle: the slices go back to the pool, not pinned by this
		// connection.
		c.out.sb = nil
		sendBufsPool.Put(sb)
	}
	c.flushing = false
	c.out.mu.Unlock()
	return nil
}

// sendBufs are the slices a connection writes from. They are lent to a
// connection while it has something to write. They start on arrays of
// their own, so that a write of up to sendBufsInline messages costs no
// allocation even right after a GC emptied the pool (one for the
// sendBufs, instead of one per slice and per growth).
//
// arena holds copies of small messages queued since the last batch was
// taken (enqueueCopy), and spareArena those of the batch being written:
// flush swaps them as it takes a batch, and only one flush runs at a time,
// so a copy is never overwritten before it is written. An arena never
// grows; a message that does not fit is copied into a pooled buffer.
type sendBufs struct {
	q, spare          []outMsg
	vec               [][]byte
	arena, spareArena []byte
	qa, sa            [sendBufsInline]outMsg
	va                [sendBufsInline][]byte
}

// arenaSize is the capacity of each of a sendBufs' two arenas: the replies
// to a read of 16 small calls (64 bytes each).
const arenaSize = 1 << 10

// place copies b for the queue, which has room bytes left under
// MaxSendQueueBytes. The first copy into an empty arena is given the
// arena's whole capacity, so that footprint charges the arena once; later
// copies are charged their length. An empty arena is not used when its
// charge would not fit in room (a small MaxSendQueueBytes).
func (sb *sendBufs) place(b []byte, room int64) outMsg {
	if len(b) <= arenaSize && (len(sb.arena) > 0 || arenaSize+QueuedMessageOverhead <= room) {
		if sb.arena == nil {
			sb.arena = make([]byte, 0, arenaSize)
		}
		if a := sb.arena; len(b) <= cap(a)-len(a) {
			start := len(a)
			a = append(a, b...)
			sb.arena = a
			if start == 0 {
				return outMsg{b: a}
			}
			return outMsg{b: a[start:len(a):len(a)]}
		}
	}
	bp := getBuf()
	*bp = append((*bp)[:0], b...)
	return outMsg{b: *bp, pool: bp}
}

// unplace takes back the copy place made for m, the last one it made.
func (sb *sendBufs) unplace(m outMsg) {
	if m.pool != nil {
		putBuf(m.pool)
		return
	}
	sb.arena = sb.arena[:len(sb.arena)-len(m.b)]
}

// sendBufsInline is how many messages sendBufs hold before their slices
// move to the heap.
const sendBufsInline = 8

var sendBufsPool = sync.Pool{New: func() any {
	sb := new(sendBufs)
	sb.q, sb.spare, sb.vec = sb.qa[:0], sb.sa[:0], sb.va[:0]
	return sb
}}

// queued is the number of messages waiting to be written (out.mu held).
func (c *Conn) queued() int {
	if c.out.sb == nil {
		return 0
	}
	return len(c.out.sb.q)
}

// sendQueueBytes is what the queued messages hold, as MaxSendQueueBytes
// counts it.
func (c *Conn) sendQueueBytes() int64 {
	c.out.mu.Lock()
	defer c.out.mu.Unlock()
	return c.out.bytes
}

// Flush writes the replies that inline routes produced during HandleMessage
// (see Inline and ConnConfig.BatchedReads). With wait, it writes on the
// calling goroutine; otherwise another goroutine writes and Flush returns at
// once, which is what an event loop wants.
func (c *Conn) Flush(wait bool) error {
	c.out.mu.Lock()
	if c.flushing || c.queued() == 0 || c.wclosed {
		c.out.mu.Unlock()
		return nil
	}
	c.flushing = true
	c.out.mu.Unlock()
	if wait {
		return c.flush()
	}
	c.pool.flush(c) // an idle worker: no goroutine to start per read
	return nil
}
