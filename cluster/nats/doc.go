// Package nats makes several wsrpc servers one: a client connected to any
// node can be called by id from every node, and Emit and Broadcast reach
// the clients of every node. The nodes talk over NATS
// (github.com/nats-io/nats.go); with no NATS URL a node runs an embedded
// NATS server in its process, a working cluster of one.
//
//	node, err := nats.New(ctx, reg, &server.Options{Identify: byQueryID}, &nats.Options{
//		Name: "node-1", URL: "nats://127.0.0.1:4222",
//	})
//	http.Handle("/ws/", node.Server())
//	err = node.Call(ctx, "alice", "notify", params, &result) // wherever alice is connected
//	err = node.Emit(ctx, map[string]any{"news": "hello"})     // every client of every node
//
// Client ids are the connections' ids (wsrpc.Conn.ID), given at admission
// by server.Options.Identify; without it they are generated, and unique.
// As on one server, the newer connection of an id wins: a client that
// reconnects to another node has its older connection closed with
// server.CloseReplaced.
//
// # Presence and failure
//
// Each node heartbeats every HeartbeatInterval (1s). A node silent for
// HeartbeatExpiry (3s) is down: its clients leave every other node's view
// and the calls waiting for it fail with ErrNodeDown at once, not at their
// deadline. A node that closes says so and is dropped at once. A node that
// restarts under its name is a new incarnation: its old clients are dropped
// and its new ones fetched.
//
// # Limits
//
// Every queue is bounded. MaxInFlight bounds the calls a node waits for
// per node called and MaxServing those it runs for others: past them calls
// fail with ErrOverloaded. MaxPending bounds each NATS subscription; NATS
// drops past it (counted by NATS as a slow consumer) instead of growing.
// Emit is at-most-once across nodes, as core NATS is; a call's answer is
// only ever a real answer of the client.
//
// # Wire between nodes
//
// Every subject starts with Options.Subject (P, default "wsrpc"); node
// names are letters, digits, '-' and '_', so they are single NATS tokens;
// client ids travel only in bodies. Bodies are JSON objects unless said.
//
//	P.presence                 every node publishes and subscribes
//	  {"t":"hb","node":N,"inst":I,"seq":S,"n":count}  heartbeat
//	  {"t":"join","node":N,"inst":I,"seq":S,"id":client,"at":unixNanos}
//	  {"t":"leave","node":N,"inst":I,"seq":S,"id":client}
//	  {"t":"bye","node":N,"inst":I,"seq":S}           the node leaves
//	P.node.N.snapshot          request (empty body), reply in parts to the inbox:
//	  {"node":N,"inst":I,"seq":S,"part":k,"parts":m,"clients":[{"id":..,"at":..}]}
//	P.node.N.call              request, reply to P.reply.<caller>.<inst>.<n>:
//	  {"to":client,"method":M,"params":any,"timeout_ms":T}
//	  → {"result":any} | {"error":{"type":..,"message":..}} | {"fail":F,"message":..}
//	P.node.N.broadcast         request, reply as for call:
//	  {"method":M,"params":any,"timeout_ms":T}
//	  → {"results":[{"id":client, result|error|fail}...]} | {"fail":F,"message":..}
//	P.emit                     the event's WebSocket message, byte for byte as
//	                           clients receive it; header Wsrpc-Node: N (the sender)
//
// inst is a random id a node picks at each start; seq numbers a node's
// joins and leaves (a heartbeat and a bye carry the latest). A receiver
// applies join and leave in seq order; on a gap, a heartbeat ahead of what
// it applied, or a node or inst it does not know, it fetches the node's
// snapshot (holding that node's announcements meanwhile) and replays the
// announcements newer than the snapshot's seq. fail is one of not_found
// (ErrClientNotFound), overloaded (ErrOverloaded), timeout
// (context.DeadlineExceeded), too_large, bad_request or failed. A reply
// with no body and the header Status 503 is NATS's "no responders":
// ErrNodeDown.
package nats
