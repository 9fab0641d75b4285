// Package wsrpc is bidirectional RPC over WebSocket, wire-compatible with the
// Python library wsrpc-aiohttp and its browser client @wsrpc/client.
//
// Both ends of a connection are equal: each exposes routes from a Registry
// and each can call the other's routes with Conn.Call (or the typed helpers
// Call and Proxy) and send events with Conn.Emit. The server package serves
// connections from an http.Handler; the client package dials them. Both
// drive the same engine, Conn, which is fed whole messages and writes
// through a Transport, so it can also run under your own I/O loop.
//
// # Routes
//
// A function route is any function of an allowed shape:
//
//	reg := wsrpc.NewRegistry()
//	reg.MustAdd("subtract", func(ctx context.Context, p struct {
//		A int `json:"a"`
//		B int `json:"b"`
//	}) (int, error) {
//		return p.A - p.B, nil
//	})
//
// It is called by its exact name ("subtract"), even when that name has dots.
//
// A struct route is a pointer to a struct that embeds Route. Each connection
// gets its own instance, a shallow copy of the registered value made on the
// first call; its Init method, if any, runs once before the first call of a
// method, and OnClose (see OnCloser) when the connection ends. Only the
// methods the marker's tag selects are callable, as "route.method":
//
//	type Storage struct {
//		wsrpc.Route `wsrpc:"proxy" methods:"Get,Set"`
//		data map[string]json.RawMessage
//	}
//
//	func (s *Storage) Init(ctx context.Context) { s.data = map[string]json.RawMessage{} }
//
//	func (s *Storage) Get(ctx context.Context, p struct {
//		Key     string          `json:"key"`
//		Default json.RawMessage `json:"default,omitempty"`
//	}) json.RawMessage { ... }
//
//	reg.MustAdd("kv", &Storage{}) // "kv.get", "kv.set"; "kv" alone runs Init
//
// The tag chooses one of three exposure modes, as the reference's route
// classes do:
//
//   - `wsrpc:"proxy" methods:"Get,Set"`: only the listed methods (Route).
//     "GetData=data" sets a method's wire name.
//   - `wsrpc:"allowed"`: every exported method declared on the struct
//     (AllowedRoute); methods promoted from embedded fields are not.
//   - `wsrpc:"prefix"` or `wsrpc:"prefix=Do"`: methods named RPCName (or
//     DoName) are called as "name" (PrefixRoute).
//
// In every mode, `noproxy:"A,B"` lists methods that answer "Method masked";
// unexported methods, Init (except through the bare route name) and OnClose
// are never reachable; anything not selected answers "Method not
// implemented". Add ",concurrent" to the wsrpc tag to let calls on one
// instance run at the same time; by default they run one at a time in
// arrival order, so fields need no lock. While a method waits in Conn.Call
// for its peer, the instance is released to the next call, so a peer that
// calls back into the same route does not deadlock.
//
// Wire names are the Go names in lower snake case: Get → get,
// GetData → get_data, HTTPStatus → http_status.
//
// # Handler shapes
//
// Functions and methods are checked when they are added; Add's error names
// the method and the rule. Parameters: an optional context.Context first,
// then one of
//
//   - nothing;
//   - one struct (or pointer to struct): named params. A JSON object maps to
//     its fields by their json names; an unknown key or a missing required
//     field is a TypeError reply. Fields are required unless they are
//     pointers or tagged omitempty, omitzero or wsrpc:"optional". Named
//     params only, as the reference's keyword-only routes: any other JSON
//     value (an array, even of one object, or a scalar) is a TypeError; an
//     empty array counts as no params. A json.Number field takes a JSON
//     number, not a string holding one.
//   - one map[string]T: the params object (named params only, as above);
//   - one json.RawMessage or easyjson.RawMessage: the params as sent;
//   - any other list: positional params, from a JSON array (a lone scalar is
//     one argument).
//
// Results: none, (error), (R) or (R, error). R is encoded with its easyjson
// code when it has some, else with encoding/json ([]byte as padded base64,
// as the reference). A result that cannot be encoded (NaN, a channel) is a
// ValueError reply. A returned *Error chooses the reply's type and message;
// other errors are sent with type "Exception" and their text.
//
// The handler's context carries the connection (ConnFromContext): its ID,
// the upgrade Request on the server, and Call and Emit to reach the peer. It
// is cancelled when the connection closes.
//
// # Calls and errors
//
// Conn.Call waits for the reply, the end of its context, or the close of the
// connection (an error matching ErrClosed). An error reply is an *Error with
// the peer's type, message and raw error; match it with errors.As, or with
// errors.Is against an *Error carrying only a Type.
//
// # Interceptors and observability
//
// An Interceptor wraps calls and events, both ways, on either side:
// Options.Interceptors for all of a side's, Intercept for one route's. It
// sees an Invocation (the connection, kind, method, id, params and result),
// may replace the context the handler gets, and may reject a call with an
// *Error. With none set a call costs nothing more. CloseReason classifies
// why a connection ended, Hooks.OnMessage sees every message, and the
// Logger gets one Info line per connection opened and closed and one Debug
// line per call. The modules github.com/wsrpc/wsrpc-go/metrics/prometheus
// and github.com/wsrpc/wsrpc-go/tracing/otel build Prometheus metrics and
// OpenTelemetry spans on them.
//
// # Limits
//
// Every limit is a field of Options with a named default: handlers running
// per connection (DefaultMaxConcurrentRequests, 25) and the bounded queue
// behind them, the per-connection send queue, and on the server the message
// size (4 MiB, close code 1009 above it) and the write timeout.
package wsrpc
