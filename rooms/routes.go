// This file owns the routes a server may expose so that clients join and
// leave rooms themselves: rooms.join and rooms.leave.

package rooms

import (
	"context"
	"errors"
	"fmt"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

// Route names Routes registers.
const (
	RouteJoin  = "rooms.join"
	RouteLeave = "rooms.leave"
)

// Authorize decides whether the client of c may join room; an error
// refuses (an *wsrpc.Error is sent as it is, another error as a
// PermissionError with its text).
type Authorize func(ctx context.Context, c *wsrpc.Conn, room string) error

// JoinParams are the params of rooms.join:
//
//	{"room": "lobby"}                                                  join
//	{"room": "lobby", "since": {"epoch": "…", "offset": 41}}           resume after offset 41
//	{"room": "lobby", "since": {…}, "marker": true}                    …and queue the Mark event
//
// The answer is Joined: {"epoch": "…", "offset": 57, "lost": true}. The
// events missed (offsets 42 to 57 above) come before the answer; with
// marker they are followed by the Mark event, which tells the client in
// the order of the events where it stands and whether it lost history.
type JoinParams struct {
	Room   string    `json:"room"`
	Since  *Position `json:"since,omitempty"`
	Marker bool      `json:"marker,omitempty"`
}

// LeaveParams are the params of rooms.leave: {"room": "lobby"}.
type LeaveParams struct {
	Room string `json:"room"`
}

// Error types of the routes' error replies.
const (
	TypePermissionError = "PermissionError"
	TypeLimitError      = "LimitError"
)

// Routes registers rooms.join and rooms.leave on reg, so that clients
// join and leave rooms themselves (a server that does not call it lets
// only its own code put connections in rooms). authorize decides who may
// join what; it is required. A client joins at most MaxRoomsPerConn
// rooms this way.
func (r *Rooms) Routes(reg *wsrpc.Registry, authorize Authorize) error {
	if authorize == nil {
		return errors.New("rooms: Routes needs an Authorize function; to let anyone join any room, pass one that returns nil")
	}
	if err := reg.Add(RouteJoin, func(ctx context.Context, p JoinParams) (Joined, error) {
		c := wsrpc.ConnFromContext(ctx)
		if err := r.checkName(p.Room); err != nil {
			return Joined{}, wsrpc.NewError(wsrpc.TypeValueError, err.Error())
		}
		if err := authorize(ctx, c, p.Room); err != nil {
			return Joined{}, refusal(err, p.Room)
		}
		j, err := r.join(ctx, c, p.Room, p.Since, p.Marker, r.opts.MaxRoomsPerConn)
		if errors.Is(err, ErrTooManyRooms) {
			return Joined{}, wsrpc.NewError(TypeLimitError, err.Error())
		}
		return j, err
	}); err != nil {
		return err
	}
	return reg.Add(RouteLeave, func(ctx context.Context, p LeaveParams) error {
		r.Leave(wsrpc.ConnFromContext(ctx), p.Room)
		return nil
	})
}

// refusal is the error reply of an Authorize that refused.
func refusal(err error, room string) error {
	var we *wsrpc.Error
	if errors.As(err, &we) {
		return we
	}
	return wsrpc.NewError(TypePermissionError, fmt.Sprintf("joining room %q is not allowed: %v", room, err))
}
