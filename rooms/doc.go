// Package rooms sends events to groups of connections (rooms) and lets a
// client that reconnects get back what it missed.
//
// A connection joins and leaves named rooms from server code (Join,
// Leave), or from the client through the rooms.join and rooms.leave
// routes when the server registers them (Routes, with an Authorize
// function that decides who joins what). Emit sends an event to a room:
// encoded once and queued on each member without waiting on any, the
// rules of the server's Emit. A connection leaves its rooms when it
// closes, through Hooks, which the server's options must carry.
// Connections that join no room cost nothing: membership is kept here,
// not on the connection.
//
//	r := rooms.New(&rooms.Options{
//		History: func(room string) *rooms.History { return &rooms.History{MaxAge: time.Minute} },
//	})
//	opts := &server.Options{}
//	opts.Hooks = wsrpc.ChainHooks(r.Hooks(), opts.Hooks)
//	_ = r.Routes(reg, func(ctx context.Context, c *wsrpc.Conn, room string) error { return nil })
//	srv := server.New(reg, opts)
//	...
//	pos, err := r.Emit(ctx, "lobby", map[string]string{"text": "hi"})
//
// # History and resume
//
// A room for which Options.History returns bounds keeps its recent
// events (by count, bytes and age) and numbers them: each carries its
// Position, an epoch (which names one unbroken history) and an offset,
// in a "_room" member of the event (see Member), which clients that do
// not know rooms hand to their listeners with the rest of the event and
// ignore. A client that reconnects joins again with the position of the
// last event it saw (rooms.join with "since", or Resume) and gets the
// events after it first, in order, then the live ones: no gap, no
// duplicate. When the history no longer reaches back (the events were
// dropped, or the epoch changed: a restart), the answer is Lost with the
// room's current position, and the application reloads its state.
//
// On the Go client, a Tracker does this by itself on every reconnect and
// hands each event to the application once, in order; a Lost callback
// says when history did not reach back.
//
// # Cluster
//
// Where events travel and where history lives is a Backend. Memory is
// the one-node backend (history in memory, a new epoch per process). A
// cluster backend implements the same interface: Publish sends an event
// on the room's own subject (for example wsrpc.room.<escaped name>), so
// that only the nodes subscribed to it receive it; Subscribe and
// Unsubscribe, which the room layer calls when the node gets its first
// member of a room and loses its last, subscribe the node to that
// subject and hand what arrives to the Sink one event at a time, in
// position order; and for rooms with history, Publish stores the event
// in a stream over the rooms' subjects (JetStream, file storage, limits
// from History) and returns once it is acknowledged, the stream's
// sequence as the offset and the stream's identity as the epoch, and
// Since reads a room's stored events after a position from that stream.
// Offsets must grow within an epoch but may skip numbers; clients drop
// duplicates by position, so delivering an event twice is harmless.
package rooms
