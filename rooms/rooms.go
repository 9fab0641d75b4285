// This file owns Rooms: which connections are in which room on this
// node, joining and leaving, and emitting to a room.

package rooms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

// Defaults of Options.
const (
	DefaultMaxNameLength    = 128
	DefaultMaxRoomsPerConn  = 64
	DefaultReplayChunkBytes = 256 << 10
)

// Errors of joining, which the rooms.join route sends as ValueError or
// LimitError replies.
var (
	// ErrRoomName is returned for a room name that is empty, longer than
	// MaxNameLength, or holds a character other than visible ASCII.
	ErrRoomName = errors.New("rooms: a room name is 1 to MaxNameLength bytes of visible ASCII without quotes or backslashes")
	// ErrTooManyRooms is returned when a client asks to join more rooms
	// than MaxRoomsPerConn. Leave one first.
	ErrTooManyRooms = errors.New("rooms: the connection is in MaxRoomsPerConn rooms already; leave one first")
	// ErrLeft is returned by a join that the connection's leave (or
	// close) overtook while it was catching up.
	ErrLeft = errors.New("rooms: the connection left the room while it was joining")
)

// Options configure Rooms. The zero value is ready to use: one node, no
// history.
type Options struct {
	// Backend carries events and keeps history. Default NewMemory(): this
	// node only.
	Backend Backend
	// History says which rooms keep history, and its bounds: nil for a
	// room without. It is asked when a room is first used (joined, or
	// emitted to while it has no member here), so give the same answer
	// for a name every time. Default nil: no room keeps history.
	History func(room string) *History
	// MaxNameLength bounds a room's name. Default DefaultMaxNameLength.
	MaxNameLength int
	// MaxRoomsPerConn bounds the rooms a client may join through the
	// rooms.join route (Join from server code is not counted against
	// it). Default DefaultMaxRoomsPerConn.
	MaxRoomsPerConn int
	// ReplayChunkBytes is how much of a room's history a resume queues
	// on the connection at a time; the next part waits until the
	// connection wrote the previous one down to this size. Keep it well
	// under the connection's MaxSendQueueBytes. Default
	// DefaultReplayChunkBytes.
	ReplayChunkBytes int
	// Logger logs what goes wrong in the background. Default
	// slog.Default().
	Logger *slog.Logger
}

// Rooms keeps the rooms of one node: which connections are members of
// which room, and the events emitted to them. A connection that joins no
// room costs nothing: membership lives in Rooms' own maps, keyed by
// connection, and a connection leaves every room when it closes (the
// OnClose hook of Hooks, which the server's options must carry). All
// methods are safe for concurrent use.
type Rooms struct {
	opts    Options
	backend Backend

	mu    sync.RWMutex // protects rooms and conns
	rooms map[string]*room
	conns map[*wsrpc.Conn][]string // the rooms of each member
}

// New returns the rooms of a node. opts may be nil. Put its Hooks in the
// server's options, so that a connection leaves its rooms when it
// closes:
//
//	r := rooms.New(nil)
//	opts.Hooks = wsrpc.ChainHooks(r.Hooks(), opts.Hooks)
func New(opts *Options) *Rooms {
	r := &Rooms{rooms: make(map[string]*room), conns: make(map[*wsrpc.Conn][]string)}
	if opts != nil {
		r.opts = *opts
	}
	o := &r.opts
	if o.Backend == nil {
		o.Backend = NewMemory()
	}
	if o.MaxNameLength <= 0 {
		o.MaxNameLength = DefaultMaxNameLength
	}
	if o.MaxRoomsPerConn <= 0 {
		o.MaxRoomsPerConn = DefaultMaxRoomsPerConn
	}
	if o.ReplayChunkBytes <= 0 {
		o.ReplayChunkBytes = DefaultReplayChunkBytes
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	r.backend = o.Backend
	r.backend.Attach(sink{r})
	return r
}

// Hooks returns the hooks that make a closed connection leave its rooms;
// chain them into the server's options (wsrpc.ChainHooks).
func (r *Rooms) Hooks() *wsrpc.Hooks {
	return &wsrpc.Hooks{OnClose: func(c *wsrpc.Conn, _ error) { r.LeaveAll(c) }}
}

// Joined is where a connection stands in a room's history once it
// joined: the position of the last event queued to it before live ones
// (zero for a room without history), and Lost when the position it
// asked to resume from is no longer in the history.
type Joined struct {
	Position
	Lost bool `json:"lost,omitempty"`
}

// Join makes c a member of room: the events emitted to room from now on
// are queued on c. Joining a room c is in already does nothing. On a
// closed connection it returns c's error (matching wsrpc.ErrClosed).
func (r *Rooms) Join(ctx context.Context, c *wsrpc.Conn, room string) (Joined, error) {
	return r.join(ctx, c, room, nil, false, 0)
}

// Resume makes c a member of room as Join does, first queueing on c the
// events of room's history after since, in order, before any event
// emitted later: no gap, no duplicate. When the history no longer
// reaches back to since (its epoch changed, or the events after it were
// dropped) nothing is replayed and the answer is Lost, with the room's
// current position: the application reloads its state. A zero since is
// a plain Join.
func (r *Rooms) Resume(ctx context.Context, c *wsrpc.Conn, room string, since Position) (Joined, error) {
	return r.join(ctx, c, room, &since, false, 0)
}

// join is Join and Resume, and the rooms.join route's with marker (the
// Mark event) and maxRooms (0: no bound).
func (r *Rooms) join(ctx context.Context, c *wsrpc.Conn, name string, since *Position, marker bool, maxRooms int) (Joined, error) {
	if err := r.checkName(name); err != nil {
		return Joined{}, err
	}
	r.mu.Lock()
	if err := c.Err(); err != nil {
		r.mu.Unlock()
		return Joined{}, err
	}
	names := r.conns[c]
	if slices.Contains(names, name) {
		r.mu.Unlock()
		return Joined{}, nil
	}
	if maxRooms > 0 && len(names) >= maxRooms {
		r.mu.Unlock()
		return Joined{}, ErrTooManyRooms
	}
	rm := r.rooms[name]
	if rm == nil {
		rm = &room{name: name, hist: r.history(name)}
		r.rooms[name] = rm
	}
	r.conns[c] = append(names, name)
	rm.mu.Lock()
	if rm.hist == nil {
		rm.add(c)
	} else {
		if rm.catching == nil {
			rm.catching = make(map[*wsrpc.Conn]*catchup)
		}
		rm.catching[c] = &catchup{limit: r.catchupLimit()}
	}
	r.subscribeLocked(rm)
	rm.mu.Unlock()
	r.mu.Unlock()
	// A close that came before the member was added found nothing to
	// remove; one after it removes it, so drop the first kind here.
	if err := c.Err(); err != nil {
		r.LeaveAll(c)
		return Joined{}, err
	}
	if rm.hist == nil {
		return Joined{}, nil
	}
	j, err := r.catchUp(ctx, c, rm, since, marker)
	if err != nil {
		r.Leave(c, name)
	}
	return j, err
}

// catchupLimit is what a connection catching up keeps of the live
// events: four replay chunks.
func (r *Rooms) catchupLimit() int { return 4 * r.opts.ReplayChunkBytes }

// history returns the history bounds of room, nil for none.
func (r *Rooms) history(room string) *History {
	if r.opts.History == nil {
		return nil
	}
	h := r.opts.History(room)
	if h == nil {
		return nil
	}
	res := h.resolved()
	return &res
}

// subscribeLocked subscribes the node to rm when it has its first member
// (r.mu and rm.mu held).
func (r *Rooms) subscribeLocked(rm *room) {
	if rm.subscribed {
		return
	}
	if err := r.backend.Subscribe(rm.name, rm.hist); err != nil {
		r.opts.Logger.Error("rooms: subscribe", "room", rm.name, "err", err)
		return
	}
	rm.subscribed = true
}

// Leave takes c out of room; nothing happens when it is not in it.
func (r *Rooms) Leave(c *wsrpc.Conn, room string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := r.conns[c]
	i := slices.Index(names, room)
	if i < 0 {
		return
	}
	names = slices.Delete(names, i, i+1)
	if len(names) == 0 {
		delete(r.conns, c)
	} else {
		r.conns[c] = names
	}
	r.removeLocked(c, room)
}

// LeaveAll takes c out of every room; Hooks runs it when c closes.
func (r *Rooms) LeaveAll(c *wsrpc.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	names, ok := r.conns[c]
	if !ok {
		return
	}
	delete(r.conns, c)
	for _, name := range names {
		r.removeLocked(c, name)
	}
}

// removeLocked takes c out of the room name, dropping the room once it
// is empty (r.mu held).
func (r *Rooms) removeLocked(c *wsrpc.Conn, name string) {
	rm := r.rooms[name]
	if rm == nil {
		return
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	rm.remove(c)
	if rm.count() > 0 {
		return
	}
	delete(r.rooms, name)
	if rm.subscribed {
		rm.subscribed = false
		r.backend.Unsubscribe(name)
	}
}

// RoomsOf returns the rooms c is in on this node, in the order it joined
// them.
func (r *Rooms) RoomsOf(c *wsrpc.Conn) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.conns[c])
}

// Count returns how many connections of this node are in room.
func (r *Rooms) Count(room string) int {
	rm := r.lookup(room)
	if rm == nil {
		return 0
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	return rm.count()
}

// Members returns a page of the connections of this node in room: at
// most limit of them, ordered by connection id, those whose id comes
// after the cursor after ("" for the first page). next is the cursor of
// the following page, "" after the last.
func (r *Rooms) Members(room, after string, limit int) (page []*wsrpc.Conn, next string) {
	rm := r.lookup(room)
	if rm == nil || limit <= 0 {
		return nil, ""
	}
	// Each id is formatted once (Conn.ID formats it on every call), into
	// a reused buffer for the members before the cursor.
	type member struct {
		id string
		c  *wsrpc.Conn
	}
	var kept []member
	var buf [64]byte
	consider := func(c *wsrpc.Conn) {
		if id := c.AppendID(buf[:0]); string(id) > after {
			kept = append(kept, member{string(id), c})
		}
	}
	rm.mu.Lock()
	for _, c := range rm.members {
		consider(c)
	}
	for c := range rm.catching {
		consider(c)
	}
	rm.mu.Unlock()
	slices.SortFunc(kept, func(a, b member) int { return strings.Compare(a.id, b.id) })
	if len(kept) > limit {
		kept = kept[:limit]
		next = kept[limit-1].id
	}
	page = make([]*wsrpc.Conn, len(kept))
	for i, m := range kept {
		page[i] = m.c
	}
	return page, next
}

func (r *Rooms) lookup(room string) *room {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.rooms[room]
}

// Emit sends event to the members of room, on every node, and returns
// its position (zero for a room without history). The event is encoded
// once (wsrpc.EncodeEvent: a JSON object without "id") and the same
// bytes are queued on each member; Emit never waits on a member's
// network: a member that stops reading is closed by its own
// MaxSendQueueBytes (close code 1008), as for the server's Emit. For a
// room with history the event is stored first and carries its position
// in the "_room" member, which the event must not have
// (ErrReservedMember).
func (r *Rooms) Emit(ctx context.Context, room string, event any) (Position, error) {
	msg, err := wsrpc.EncodeEvent(event)
	if err != nil {
		return Position{}, err
	}
	return r.EmitEncoded(ctx, room, msg)
}

// EmitEncoded is Emit of an event already encoded by wsrpc.EncodeEvent.
// msg is kept (in the history) and shared: do not modify it afterwards.
func (r *Rooms) EmitEncoded(ctx context.Context, room string, msg []byte) (Position, error) {
	if err := ctx.Err(); err != nil {
		return Position{}, err
	}
	var hist *History
	if rm := r.lookup(room); rm != nil {
		hist = rm.hist
	} else {
		if err := r.checkName(room); err != nil {
			return Position{}, err
		}
		hist = r.history(room)
	}
	if hist != nil && hasMember(msg) {
		return Position{}, ErrReservedMember
	}
	return r.backend.Publish(ctx, room, msg, hist)
}

// checkName returns an error matching ErrRoomName for a name that is not
// a room's.
func (r *Rooms) checkName(name string) error {
	if name == "" || len(name) > r.opts.MaxNameLength {
		return fmt.Errorf("%w (got %d bytes)", ErrRoomName, len(name))
	}
	if !plain(name) {
		return fmt.Errorf("%w (got %q)", ErrRoomName, name)
	}
	return nil
}

// sink is the Sink Rooms gives its backend.
type sink struct{ r *Rooms }

// Has reports whether room has a member or a joiner here.
func (s sink) Has(room string) bool { return s.r.lookup(room) != nil }

// Deliver queues event on the members of room on this node, encoded
// once: as it is for a room without history, with its position in front
// for one with.
func (s sink) Deliver(name string, pos Position, event []byte) {
	rm := s.r.lookup(name)
	if rm == nil {
		return
	}
	msg := event
	if !pos.IsZero() {
		msg = frame(name, pos, event)
	}
	rm.mu.Lock()
	dead := rm.deliverLocked(pos, msg)
	rm.mu.Unlock()
	for _, c := range dead {
		s.r.LeaveAll(c) // the close hook does it too, if it is in place
	}
}
