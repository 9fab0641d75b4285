// This file owns joining a room with history: the replay of what the
// connection missed, handed over to live events without a gap or a
// duplicate.

package rooms

import (
	"context"
	"time"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

// catchUp replays rm's history after since on c, which is catching up
// (in rm.catching, so that the events delivered meanwhile are kept for
// it), then makes it a member. The history is queued a chunk at a time,
// outside the room's lock, each once the connection wrote the last down
// to ReplayChunkBytes; the events delivered meanwhile are queued after
// it under the lock, skipping those the replay had, and the member is
// added under that same lock, so that the next event delivered follows
// them. A catchup that overflowed goes back to the history for the rest.
func (r *Rooms) catchUp(ctx context.Context, c *wsrpc.Conn, rm *room, since *Position, marker bool) (Joined, error) {
	var from Position
	if since != nil {
		from = *since
	}
	lost := false
	chunk := r.opts.ReplayChunkBytes
	for {
		evs, head, gone, err := r.backend.Since(ctx, rm.name, from, rm.hist, chunk)
		if err != nil {
			return Joined{}, err
		}
		switch {
		case from.IsZero():
			from = head // a fresh join: nothing to replay
		case gone:
			lost, from = true, head
		default:
			for _, e := range evs {
				if err := c.EmitEncoded(frame(rm.name, e.Pos, e.Event)); err != nil {
					return Joined{}, err
				}
				from = e.Pos
			}
			if len(evs) > 0 && from.Offset < head.Offset {
				if err := waitWritten(ctx, c, chunk); err != nil {
					return Joined{}, err
				}
				continue
			}
		}
		j, again, err := r.handOver(c, rm, from, lost, marker)
		if !again {
			return j, err
		}
	}
}

// handOver queues, under rm's lock, the mark (when asked for) and the
// events delivered to c while it caught up that come after from, and
// makes c a member. again says that events were dropped meanwhile and
// the history must be read again from from.
func (r *Rooms) handOver(c *wsrpc.Conn, rm *room, from Position, lost, marker bool) (j Joined, again bool, err error) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	cu, ok := rm.catching[c]
	if !ok {
		return Joined{}, false, ErrLeft
	}
	if cu.overflow {
		*cu = catchup{limit: cu.limit}
		return Joined{}, true, nil
	}
	if marker {
		m := Mark{Name: rm.name, Epoch: from.Epoch, Offset: from.Offset, Joined: true, Lost: lost}
		if err := c.EmitEncoded(markFrame(m)); err != nil {
			return Joined{}, false, err
		}
	}
	j = Joined{Position: from, Lost: lost}
	for _, e := range cu.events {
		if e.pos.Epoch == from.Epoch && e.pos.Offset <= from.Offset {
			continue // replayed, or before the join
		}
		if err := c.EmitEncoded(e.msg); err != nil {
			return Joined{}, false, err
		}
		j.Position = e.pos
	}
	delete(rm.catching, c)
	rm.add(c)
	return j, false, nil
}

// waitWritten waits until c has at most limit bytes waiting to be
// written, or ctx ends, or c closes.
func waitWritten(ctx context.Context, c *wsrpc.Conn, limit int) error {
	wait := 100 * time.Microsecond
	for c.Stats().SendQueueBytes > int64(limit) {
		if err := c.Err(); err != nil {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 10*time.Millisecond)
	}
	return nil
}
