// This file owns fan-out: Broadcast and Emit to every connected client,
// each message encoded once and its bytes shared by every connection.

package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

// BroadcastResult is one client's answer to Broadcast.
type BroadcastResult struct {
	Conn   *wsrpc.Conn
	Result json.RawMessage // the result, when Err is nil
	Err    error           // the client's error reply (*wsrpc.Error), or why the call failed
}

// Broadcast calls method with params on every connected client at once and
// returns one result per client, in connection order, once all have answered
// or ctx ended. A failure of one client is reported in its entry and does
// not stop the others (the reference's return_exceptions=True). With no
// clients it returns an empty slice.
func (s *Server) Broadcast(ctx context.Context, method string, params any) []BroadcastResult {
	return s.BroadcastFunc(ctx, method, params, nil)
}

// BroadcastFunc is Broadcast with a callback that runs for each client as
// soon as its call finishes (the reference's callback argument), on the
// goroutine that called BroadcastFunc.
//
// The call is encoded once and the same bytes are queued on every
// connection (see wsrpc.CallAll); nothing waits on a slow reader: a client
// that stops reading is closed by its own MaxSendQueueBytes (close code
// 1008) and its entry reports the close. When ctx ends first, the clients
// that have not answered get ctx's error at once. Params that cannot be
// encoded give every client that error.
func (s *Server) BroadcastFunc(ctx context.Context, method string, params any, each func(BroadcastResult)) []BroadcastResult {
	conns := s.Clients()
	out := make([]BroadcastResult, len(conns))
	err := wsrpc.CallAll(ctx, conns, method, params, func(i int, res json.RawMessage, err error) {
		out[i] = BroadcastResult{Conn: conns[i], Result: res, Err: err}
		if each != nil {
			each(out[i])
		}
	})
	if err != nil {
		for i, c := range conns {
			out[i] = BroadcastResult{Conn: c, Err: err}
			if each != nil {
				each(out[i])
			}
		}
	}
	return out
}

// Emit sends an event to every connected client and returns the errors of
// the clients it could not reach, joined. The event is encoded once
// (wsrpc.EncodeEvent) and the same bytes are queued on every connection;
// Emit never waits on the network, so a client that stops reading delays
// no other: its own MaxSendQueueBytes closes it (close code 1008). An event
// that is not a JSON object without "id" gives an error matching
// wsrpc.ErrNotEvent and is sent to no one. Being encoded once, it passes
// no connection's outgoing-event interceptors (see wsrpc.Conn.EmitEncoded);
// Hooks.OnMessage sees it on every connection as it is written.
func (s *Server) Emit(ctx context.Context, event any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	msg, err := wsrpc.EncodeEvent(event)
	if err != nil {
		return err
	}
	var errs []error
	s.fanOut(func(conns []*wsrpc.Conn) {
		wsrpc.EmitEncodedAll(conns, msg, func(c *wsrpc.Conn, err error) {
			errs = append(errs, fmt.Errorf("client %s: %w", c.ID(), err))
		})
	})
	return errors.Join(errs...)
}

// EmitEncoded queues msg on every connection (encoded once), returning how
// many took it. msg is an already-encoded message, from wsrpc.EncodeEvent;
// it is shared by every connection, not copied: do not modify it
// afterwards. Like Emit, it never waits on the network.
func (s *Server) EmitEncoded(msg []byte) int {
	n := 0
	s.fanOut(func(conns []*wsrpc.Conn) { n = wsrpc.EmitEncodedAll(conns, msg, nil) })
	return n
}

// fanOut runs fn with the connected clients, in connection order: a
// snapshot taken into a pooled slice (so that a fan-out allocates nothing
// per client and holds s.mu only to copy), valid during the call.
func (s *Server) fanOut(fn func(conns []*wsrpc.Conn)) {
	sp := fanOutConns.Get().(*[]*wsrpc.Conn)
	conns := (*sp)[:0]
	s.mu.Lock()
	for _, c := range s.order {
		if c != nil {
			conns = append(conns, c)
		}
	}
	s.mu.Unlock()
	fn(conns)
	clear(conns)
	*sp = conns[:0]
	fanOutConns.Put(sp)
}

// fanOutConns lends fanOut its snapshot slices.
var fanOutConns = sync.Pool{New: func() any { return new([]*wsrpc.Conn) }}
