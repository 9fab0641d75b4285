// This file owns positions and the room member of an event frame: how a
// position is written into an event and read back out of it.

package rooms

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// Position is a place in a room's history: Offset is the last event seen
// (0 before any), in the history stream named by Epoch. Offsets grow
// strictly within an epoch (a backend may skip numbers); a new epoch
// means the history before it is gone. The zero Position is "nothing
// seen yet".
type Position struct {
	Epoch  string `json:"epoch"`
	Offset uint64 `json:"offset"`
}

// IsZero reports whether p is the zero Position.
func (p Position) IsZero() bool { return p.Epoch == "" && p.Offset == 0 }

// After reports whether p comes after q in the same epoch.
func (p Position) After(q Position) bool { return p.Epoch == q.Epoch && p.Offset > q.Offset }

// Member is the name of the member an event to a room with history
// carries: {"_room":{"name":"lobby","epoch":"…","offset":42}, …the event…}.
// Clients that do not know rooms (the unmodified JS and Python clients)
// hand the whole object to their event listeners, which ignore a member
// they do not read. An event of a room without history is sent as it
// is, without the member.
const Member = "_room"

// Mark is the room member of an event the server queues, when the
// client asks for it on joining (rooms.join's "marker"), after the
// replay and before any live event: its position is where the client
// now stands, and Lost says that the history did not reach back to the
// position the client asked for.
//
//	{"_room":{"name":"lobby","epoch":"…","offset":42,"joined":true,"lost":true}}
type Mark struct {
	Name   string `json:"name"`
	Epoch  string `json:"epoch"`
	Offset uint64 `json:"offset"`
	Joined bool   `json:"joined,omitempty"`
	Lost   bool   `json:"lost,omitempty"`
}

// Position returns the mark's position.
func (m Mark) Position() Position { return Position{Epoch: m.Epoch, Offset: m.Offset} }

// ErrReservedMember is returned when an event to a room with history
// already has a "_room" member: rename the event's member.
var ErrReservedMember = errors.New(`rooms: an event to a room with history must not have a "_room" member; the room's position goes there`)

// frame returns the event msg (a JSON object) with the room member of
// name at pos first, in one allocation.
func frame(name string, pos Position, msg []byte) []byte {
	body := msg[1:] // after '{'
	empty := emptyObjectTail(body)
	out := make([]byte, 0, len(msg)+len(name)+len(pos.Epoch)+64)
	out = append(out, `{"`+Member+`":{"name":`...)
	out = appendString(out, name)
	out = append(out, `,"epoch":`...)
	out = appendString(out, pos.Epoch)
	out = append(out, `,"offset":`...)
	out = strconv.AppendUint(out, pos.Offset, 10)
	out = append(out, '}')
	if empty {
		return append(out, '}')
	}
	out = append(out, ',')
	return append(out, body...)
}

// appendString appends s as a JSON string: as it is when it is plain
// (room names always are, epochs usually), else escaped.
func appendString(b []byte, s string) []byte {
	if plain(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	q, _ := json.Marshal(s)
	return append(b, q...)
}

// plain reports whether s is visible ASCII without quotes or
// backslashes: a JSON string as it is, and a room name.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b <= ' ' || b > '~' || b == '"' || b == '\\' {
			return false
		}
	}
	return true
}

// markFrame returns the event that carries m.
func markFrame(m Mark) []byte {
	b, _ := json.Marshal(struct {
		M Mark `json:"_room"`
	}{m})
	return b
}

// emptyObjectTail reports whether body, an object after its '{', has no
// member.
func emptyObjectTail(body []byte) bool {
	return len(bytes.TrimSpace(body)) == 1 // only '}'
}

// hasMember reports whether the event msg has the top-level room
// member. The cheap test first: most events do not contain the name at
// all.
func hasMember(msg []byte) bool {
	if !bytes.Contains(msg, []byte(`"`+Member+`"`)) {
		return false
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(msg, &top) != nil {
		return true // refuse what cannot be told apart
	}
	_, ok := top[Member]
	return ok
}

// eventRoom is how an event's room member is read.
type eventRoom struct {
	R *Mark `json:"_room"`
}

// ReadMember returns the room member of an event received from a
// server, and whether it has one. It reads the event's top-level members
// only as far as the room's.
func ReadMember(event []byte) (Mark, bool) {
	if !bytes.Contains(event, []byte(`"`+Member+`"`)) {
		return Mark{}, false
	}
	var e eventRoom
	if json.Unmarshal(event, &e) != nil || e.R == nil || e.R.Name == "" {
		return Mark{}, false
	}
	return *e.R, true
}
