// Package nats makes several wsrpc servers one: a client connected to any
// node can be called by id from every node, and Emit and Broadcast reach
// the clients of every node. The nodes talk over NATS
// (github.com/nats-io/nats.go); with no NATS URL a node runs an embedded
// NATS server in its process, a working cluster of one.
//
//	node, err := nats.New(ctx, reg, &server.Options{Identify: byQueryID}, &nats.Options{
//		Name: "node-1", URL: "nats://127.0.0.1:4222", Secret: os.Getenv("WSRPC_CLUSTER_SECRET"),
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
// # Routing by subject
//
// The node that holds a client subscribes to the client's subject; a
// call to a client of another node is one NATS request on it, and NATS's
// "no responders" is ErrClientNotFound at once. No node keeps a table of
// the others' clients and nothing sent between nodes grows with their
// number: Lookup asks the client's subject, Count and Clients ask every
// node (each streams its list in parts). The newer connection of an id
// wins without comparing clocks: the node that admits a client claims
// the id on its subject with a generation; a holder with a lower claim
// closes its connection, one with a higher claim answers, and the
// claimant (the newer connection) claims past it. Two admissions of one
// id at the same moment on two nodes leave exactly one connection.
//
// Nodes heartbeat every HeartbeatInterval (1s) on one subject: what
// Broadcast, Count and Clients ask, and, for calls running longer than an
// interval (their node says so), what fails them with ErrNodeDown within
// HeartbeatExpiry (3s) of their node's death instead of at their
// deadline. That traffic grows with the nodes, not the clients.
//
// # Rooms
//
// Node.Rooms returns the node's rooms (package rooms) over the cluster: a
// room's events travel on its own subject, to which a node subscribes
// while it has members of the room, so NATS carries them only to the
// nodes with members; an event emitted on any node (with members or not)
// reaches each member once, and a node's own members have it queued
// before Emit returns. Room events are signed and checked as Emit's are.
// Closed connections leave their rooms through the node's hooks.
//
//	r, err := node.Rooms(nil)
//	_ = r.Routes(node.Server().Registry(), authorize) // rooms.join, rooms.leave
//	_, err = r.Emit(ctx, "lobby", map[string]string{"text": "hi"})
//
// Rooms with history keep it in JetStream: one stream over
// P.hroom.> (file storage, limits raised to the largest rooms.History
// used; each room's own applied when it is read), which republishes
// each stored event with its sequence on P.hlive.<token>, the subject the
// nodes with members subscribe to. The offset of an event is its stream
// sequence and the epoch the stream's creation time; Emit returns once
// JetStream acknowledged the event, and a client that reconnects to any
// node resumes from the stream. A stored event is checked again (its
// signature, not its age) when it is read back. The sequence comes from
// JetStream and is not signed: only the NATS server and the nodes may
// publish on P.hlive.>. A stream deleted while nodes run is made again by
// the next emit or resume, with a new epoch (resumes from the old one are
// lost); a node that neither emitted nor resumed since numbers the
// events it delivers with the old epoch until it does.
//
// # Trust
//
// Every message between nodes carries an HMAC-SHA256, under the cluster
// secret (Options.Secret; PreviousSecret during a rotation), of its
// sender, sequence number, time, subject, reply subject and body. A node
// drops and counts (Stats) every message that does not verify, that is
// more than a minute from its own clock, or whose sequence it saw before
// from that sender (a replay). Reply subjects carry 128 random bits. An
// event from another node reaches clients only if it is valid UTF-8 and
// a JSON object without "id"; anything else is dropped and counted.
//
// So a NATS user without the secret, even one allowed to publish and
// subscribe on every subject, can NOT: run a route of a client, close
// or reroute a client's connection, complete or fail anyone's call with a
// result of its own, replay a node's message, pose as a node, or send a
// frame to any client. It CAN: read what crosses NATS (params, results,
// events: use TLS and NATS permissions to keep it private), delay or drop
// messages, subscribe to a client's subject so that calls to the client
// wait for their deadline instead of failing at once, and answer a
// request with NATS's own "no responders" status (unsigned, as NATS
// sends it), which fails that call with ErrClientNotFound. Give nodes
// their own NATS account or user, with permissions on the prefix's
// subjects only, and no one else the secret. Hosts' clocks must agree
// within a minute (NTP); a serving node also starts no call past its
// caller's deadline as its own clock reads it.
//
// # Failures
//
// With NATS unreachable, Call, Emit and Broadcast fail with
// ErrClusterUnavailable: at once while the connection is down (nothing
// is buffered for later), within UnavailableTimeout (2s) when NATS stops
// answering, and while NATS has just come back and not every node has
// answered since (for at most UnavailableTimeout), so that a client not
// yet resubscribed is not reported as not found. A cross-node call
// carries its deadline (or CallTimeout's); the serving node does not
// start it past the deadline, and stops waiting when the caller cancels.
// Requests are served by a set of worker goroutines that grows to
// MaxServing; past it, and past MaxInFlight waiting calls, calls fail
// with ErrOverloaded. Emit is at-most-once across nodes, as core NATS
// is. New refuses a name a live node has (ErrNameInUse), and of nodes
// started with one name at the same moment exactly one starts: each
// subscribes to the name's subject, claims it there, and listens for a
// tenth of a second (plus a few NATS round trips); a running node's
// answer refuses the claimant, and of two starting ones the lower inst
// keeps the name, which both sides decide alike.
//
// # Wire between nodes
//
// Every subject starts with Options.Subject (P, default "wsrpc"); node
// names are letters, digits, '-' and '_'; a client id becomes one token,
// "b" and its base64url (ids up to 96 bytes) or "h" and the base64url of
// its SHA-256. Bodies are JSON objects, each signed in the header
// Wsrpc-Auth: "<key id> <node> <inst> <seq> <unix ms> <mac>".
//
//	P.client.<token>           the node that has the client subscribes:
//	  {"k":"call","to":id,"method":M,"params":any,"timeout_ms":T,"deadline_ms":D}
//	    → {"result":any,"node":N} | {"error":{"type":..,"message":..}} | {"fail":F,"message":..}
//	    → {"ack":true,"node":N} first, when the call runs for a heartbeat interval
//	  {"k":"cancel","to":id,"reply":R}   the caller of the call replying to R gave up
//	  {"k":"where","to":id} → {"node":N}
//	  {"k":"claim","to":id,"claim":{"g":G,"node":N,"inst":I,"serial":S}}, reply P.held.<inst>
//	P.held.<inst>              {"k":"held","to":id,"claim":{...}}: a holder's higher claim
//	P.node.<name>.broadcast    {"k":"broadcast","method":M,"params":any,...} → parts
//	                           {"results":[{"id":..,"result"|"error"|"fail":..}],"parts":K on the last}
//	P.node.<name>.list         {"k":"list"} → parts {"ids":[...],"parts":K on the last}
//	P.node.<name>.count        {"k":"count"} → {"count":n}
//	P.node.<name>.ping         {"k":"ping"} → {"node":N}
//	P.name.<name>              {"k":"name","node":N,"inst":I} → {"node":N,"inst":I,"message":"running"|"starting"}
//	P.nodes                    {"k":"hb"|"bye","node":N,"inst":I}
//	P.emit                     the event's WebSocket message, byte for byte as
//	                           clients receive it
//	P.room.<token>             an event to a room, as P.emit's; the token is the
//	                           room name's, encoded as a client id's
//	P.hroom.<token>            an event to a room with history, stored by the
//	                           stream WSRPC_ROOMS_<P, '.' as '_'>
//	P.hlive.<token>            the same, republished by JetStream once stored,
//	                           with the headers Nats-Sequence and Nats-Subject
//	P.rnode.<name>             {"k":"rcount","params":{"room":R}} → {"count":n}
//	                           {"k":"rmembers","params":{"room":R,"after":A,"limit":L}} → {"ids":[...]}
//	P.reply.<inst>.<token>     the replies to one request of node inst
//
// inst is a random id a node picks at each start. fail is one of
// not_found (ErrClientNotFound), overloaded (ErrOverloaded), timeout
// (context.DeadlineExceeded), bad_request or failed.
package nats
