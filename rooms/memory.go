// This file owns Memory, the one-node backend: events go straight to the
// node's sink, and each room with history keeps it in memory, bounded by
// count, bytes and age.

package rooms

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// Memory is the Backend of a single node: Publish delivers to this
// node's members at once, and history is kept in memory, per room,
// within its History bounds. Its epochs are random, so a restarted
// process (a new Memory) starts new ones: clients that resume from
// before the restart are told their history is lost. The history of a
// room with no member on this node is dropped once it has held no event
// for MaxAge (nothing to replay, nobody publishing, nobody listening); a
// later resume from it is then told lost too. A room with members keeps
// its epoch however long it stays quiet.
//
// Use NewMemory; a Memory serves one Rooms.
type Memory struct {
	sink Sink
	now  func() time.Time

	mu      sync.Mutex // protects streams and sweeping
	streams map[string]*stream
	sweeper *time.Timer // runs while streams is not empty
}

// stream is one room's history.
type stream struct {
	mu    sync.Mutex // protects the following
	hist  History
	epoch string
	last  uint64  // the offset of the last event published
	ents  []entry // oldest first
	bytes int64   // of ents' events
	idle  int64   // unix nanoseconds of the last publish (or the start)
}

type entry struct {
	off uint64
	at  int64 // unix nanoseconds
	ev  []byte
}

// entryOverhead is what an entry costs besides its event's bytes: the
// entry in the slice and the event's slice header.
const entryOverhead = 48

// sweepEvery is how often Memory drops what aged out.
const sweepEvery = time.Second

// NewMemory returns the one-node backend.
func NewMemory() *Memory {
	return &Memory{streams: make(map[string]*stream), now: time.Now}
}

// Attach implements Backend.
func (m *Memory) Attach(s Sink) { m.sink = s }

// Subscribe implements Backend: one node has nothing to subscribe to.
func (m *Memory) Subscribe(string, *History) error { return nil }

// Unsubscribe implements Backend.
func (m *Memory) Unsubscribe(string) {}

// Publish implements Backend: the event is stored (with hist) and
// delivered to the sink under the room's history lock, so that
// deliveries follow positions.
func (m *Memory) Publish(_ context.Context, room string, event []byte, hist *History) (Position, error) {
	if hist == nil {
		m.sink.Deliver(room, Position{}, event)
		return Position{}, nil
	}
	s := m.stream(room, hist)
	now := m.now().UnixNano()
	s.mu.Lock()
	s.last++
	s.ents = append(s.ents, entry{off: s.last, at: now, ev: event})
	s.bytes += int64(len(event)) + entryOverhead
	s.idle = now
	s.trimLocked(now)
	pos := Position{Epoch: s.epoch, Offset: s.last}
	m.sink.Deliver(room, pos, event)
	s.mu.Unlock()
	return pos, nil
}

// Since implements Backend.
func (m *Memory) Since(_ context.Context, room string, pos Position, hist *History, maxBytes int) ([]Stored, Position, bool, error) {
	s := m.stream(room, hist)
	now := m.now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trimLocked(now)
	head := Position{Epoch: s.epoch, Offset: s.last}
	if pos.IsZero() {
		return nil, head, false, nil
	}
	if pos.Epoch != s.epoch {
		return nil, head, true, nil
	}
	if pos.Offset >= s.last {
		return nil, head, false, nil
	}
	first := s.last + 1 // the oldest offset kept
	if len(s.ents) > 0 {
		first = s.ents[0].off
	}
	if pos.Offset+1 < first {
		return nil, head, true, nil
	}
	i := int(pos.Offset + 1 - first) // offsets are contiguous here
	var out []Stored
	size := 0
	for ; i < len(s.ents) && (len(out) == 0 || size+len(s.ents[i].ev) <= maxBytes); i++ {
		out = append(out, Stored{Pos: Position{Epoch: s.epoch, Offset: s.ents[i].off}, Event: s.ents[i].ev})
		size += len(s.ents[i].ev)
	}
	return out, head, false, nil
}

// stream returns room's history, starting it (a new epoch) when there is
// none.
func (m *Memory) stream(room string, hist *History) *stream {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.streams[room]
	if s == nil {
		s = &stream{hist: hist.resolved(), epoch: newEpoch(), idle: m.now().UnixNano()}
		m.streams[room] = s
		if m.sweeper == nil {
			m.sweeper = time.AfterFunc(sweepEvery, m.sweep)
		}
	}
	return s
}

// trimLocked drops the oldest events past the stream's bounds.
func (s *stream) trimLocked(now int64) {
	cut := now - int64(s.hist.MaxAge)
	n := 0
	for n < len(s.ents) && (len(s.ents)-n > s.hist.MaxEvents || s.bytes > s.hist.MaxBytes || s.ents[n].at < cut) {
		s.bytes -= int64(len(s.ents[n].ev)) + entryOverhead
		s.ents[n] = entry{}
		n++
	}
	if n > 0 {
		s.ents = s.ents[n:]
		if len(s.ents) == 0 {
			s.ents = nil // an empty history holds no array
		}
	}
}

// sweep drops aged events of every stream, and the streams of rooms
// without members here that held no event for their MaxAge; it runs
// again while streams are left.
func (m *Memory) sweep() {
	now := m.now().UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sweeper == nil {
		return // closed
	}
	for room, s := range m.streams {
		s.mu.Lock()
		s.trimLocked(now)
		drop := len(s.ents) == 0 && now-s.idle > int64(s.hist.MaxAge)
		s.mu.Unlock()
		if drop && !m.sink.Has(room) {
			delete(m.streams, room)
		}
	}
	if len(m.streams) == 0 {
		m.sweeper = nil
		return
	}
	m.sweeper.Reset(sweepEvery)
}

// Close stops the sweeper and drops every history.
func (m *Memory) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sweeper != nil {
		m.sweeper.Stop()
		m.sweeper = nil
	}
	clear(m.streams)
}

// newEpoch returns a random epoch name.
func newEpoch() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
