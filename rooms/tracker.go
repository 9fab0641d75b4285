// This file owns Tracker, the client's side of rooms: it remembers the
// rooms joined and the position reached in each, joins them again after
// every reconnect from that position, and hands each event to the
// application once, in order.

package rooms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

// TrackerOptions configure a Tracker. The callbacks run on the client's
// event goroutine, one at a time, in the order of the events.
type TrackerOptions struct {
	// OnEvent gets each event of a followed room with history once, in
	// order, with its position. Duplicates (a replay overlapping what was
	// already seen) are dropped by position. Events without a room
	// member (those of rooms without history, and any other event) go to
	// the OnEvent of the options the tracker was installed in.
	OnEvent func(room string, pos Position, event json.RawMessage)
	// OnLost is told that the history of room did not reach back to the
	// last position seen: events were missed, reload the room's state.
	// pos is where the room stands now; the events after it follow.
	OnLost func(room string, pos Position)
	// OnRejoinError is told that joining room again after a reconnect
	// was refused (an error reply: the room is no longer followed). A
	// failure of the connection itself makes the client reconnect and
	// try again instead.
	OnRejoinError func(room string, err error)
}

// Tracker follows rooms from a Go client: Install it in the client's
// options, then Join rooms through it. After every reconnect it joins
// them again, asking each for the events after the last one seen
// (rooms.join with "since"), so that with client.Options.Reconnect the
// application gets every event once and in order, and OnLost when the
// history did not reach back. The server must expose the rooms routes
// (Rooms.Routes).
//
//	t := rooms.NewTracker(rooms.TrackerOptions{OnEvent: show, OnLost: reload})
//	opts := &client.Options{Reconnect: true}
//	t.Install(&opts.Options)
//	c, err := client.Dial(ctx, url, nil, opts)
//	_, err = t.Join(ctx, c, "lobby")
type Tracker struct {
	opts TrackerOptions
	next func(*wsrpc.Conn, json.RawMessage) // the OnEvent it replaced

	mu    sync.Mutex // protects rooms
	rooms map[string]*followed
}

// followed is a room the tracker follows.
type followed struct {
	pos   Position
	known bool // pos was set by an event or a mark
}

// NewTracker returns a tracker with no room.
func NewTracker(opts TrackerOptions) *Tracker {
	return &Tracker{opts: opts, rooms: make(map[string]*followed)}
}

// Install routes the events of o to the tracker (events of no room still
// reach o.OnEvent) and adds the OnConnect hook that joins the rooms again
// after a reconnect (after o's own OnConnect, which may log in first).
// Call it once, before dialling: client.Options embeds wsrpc.Options.
func (t *Tracker) Install(o *wsrpc.Options) {
	t.next = o.OnEvent
	o.OnEvent = t.onEvent
	o.Hooks = wsrpc.ChainHooks(o.Hooks, &wsrpc.Hooks{OnConnect: t.rejoin})
}

// Join joins room through c (a client.Client, usually) and follows it.
func (t *Tracker) Join(ctx context.Context, c wsrpc.Caller, room string) (Joined, error) {
	t.mu.Lock()
	if _, ok := t.rooms[room]; !ok {
		t.rooms[room] = new(followed)
	}
	t.mu.Unlock()
	var j Joined
	err := c.Call(ctx, RouteJoin, JoinParams{Room: room, Marker: true}, &j)
	if err != nil {
		t.forget(room)
		return Joined{}, err
	}
	return j, nil
}

// Leave stops following room and leaves it through c.
func (t *Tracker) Leave(ctx context.Context, c wsrpc.Caller, room string) error {
	t.forget(room)
	return c.Call(ctx, RouteLeave, LeaveParams{Room: room}, nil)
}

// Position returns the position of the last event of room handed to the
// application, and whether the tracker knows one.
func (t *Tracker) Position(room string) (Position, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.rooms[room]
	if f == nil {
		return Position{}, false
	}
	return f.pos, f.known
}

func (t *Tracker) forget(room string) {
	t.mu.Lock()
	delete(t.rooms, room)
	t.mu.Unlock()
}

// rejoin joins every followed room on a new connection from where it
// stands. An error reply drops the room (OnRejoinError); another error
// fails the connection, and the client reconnects.
func (t *Tracker) rejoin(ctx context.Context, c *wsrpc.Conn) error {
	t.mu.Lock()
	todo := make([]JoinParams, 0, len(t.rooms))
	for name, f := range t.rooms {
		p := JoinParams{Room: name, Marker: true}
		if f.known {
			pos := f.pos
			p.Since = &pos
		}
		todo = append(todo, p)
	}
	t.mu.Unlock()
	for _, p := range todo {
		err := c.Call(ctx, RouteJoin, p, nil)
		var refused *wsrpc.Error
		switch {
		case err == nil:
		case errors.As(err, &refused):
			t.forget(p.Room)
			if t.opts.OnRejoinError != nil {
				t.opts.OnRejoinError(p.Room, err)
			}
		default:
			return fmt.Errorf("rooms: join %q again: %w", p.Room, err)
		}
	}
	return nil
}

// onEvent is the client's OnEvent: in the order of the events, it drops
// what was seen, reports losses, and hands the rest on.
func (t *Tracker) onEvent(c *wsrpc.Conn, ev json.RawMessage) {
	m, ok := ReadMember(ev)
	if !ok {
		if t.next != nil {
			t.next(c, ev)
		}
		return
	}
	pos := m.Position()
	t.mu.Lock()
	f := t.rooms[m.Name]
	if f == nil { // not followed (any more)
		t.mu.Unlock()
		return
	}
	seen, known := f.pos, f.known
	switch {
	case m.Joined:
		if m.Lost || !known || pos.After(seen) {
			f.pos, f.known = pos, true
		}
		t.mu.Unlock()
		if m.Lost && t.opts.OnLost != nil {
			t.opts.OnLost(m.Name, pos)
		}
		return
	case known && pos.Epoch == seen.Epoch && pos.Offset <= seen.Offset:
		t.mu.Unlock()
		return // seen already
	}
	f.pos, f.known = pos, true
	t.mu.Unlock()
	if known && pos.Epoch != seen.Epoch && t.opts.OnLost != nil {
		// A new epoch without a mark: what came before it is gone.
		t.opts.OnLost(m.Name, Position{Epoch: pos.Epoch})
	}
	if t.opts.OnEvent != nil {
		t.opts.OnEvent(m.Name, pos, ev)
	}
}
