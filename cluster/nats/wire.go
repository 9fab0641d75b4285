package nats

//go:generate go tool easyjson -no_std_marshalers -output_filename wire_easyjson.go wire.go

import (
	"encoding/json"
	"fmt"

	"github.com/mailru/easyjson"
)

// The messages between nodes. See the package documentation for the
// subjects they travel on; every one is a JSON object, except an emitted
// event, which is the event's WebSocket message as it is sent to clients.
// Every one is signed (auth.go).

// Kinds of request (request.Kind).
const (
	kindCall      = "call"      // P.client.<tok>: run a call on the client
	kindCancel    = "cancel"    // P.client.<tok>: the caller gave up the call replying to Reply
	kindWhere     = "where"     // P.client.<tok>: which node has the client
	kindClaim     = "claim"     // P.client.<tok>: a node admitted the client
	kindHeld      = "held"      // P.held.<inst>: a holder's claim beats yours
	kindBroadcast = "broadcast" // P.node.<name>.broadcast: call every client
	kindList      = "list"      // P.node.<name>.list: the node's client ids
	kindCount     = "count"     // P.node.<name>.count: how many clients
	kindPing      = "ping"      // P.node.<name>.ping: is a node of this name alive
	kindName      = "name"      // P.name.<name>: a node starts with this name
	kindHeartbeat = "hb"        // P.nodes
	kindBye       = "bye"       // P.nodes: the node leaves
)

// request is every message a node sends to a client's subject, a node's
// services, its claims and the heartbeats.
//
//easyjson:json
type request struct {
	Kind   string          `json:"k"`
	To     string          `json:"to,omitempty"` // the client id
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	// TimeoutMS is what was left of the caller's deadline when it sent
	// the request; DeadlineMS the deadline itself, Unix ms on the
	// caller's clock. A serving node runs nothing past either.
	TimeoutMS  int64  `json:"timeout_ms,omitempty"`
	DeadlineMS int64  `json:"deadline_ms,omitempty"`
	Reply      string `json:"reply,omitempty"` // cancel: the reply subject of the call
	Claim      *claim `json:"claim,omitempty"` // claim, held
	Node       string `json:"node,omitempty"`  // hb, bye, name
	Inst       string `json:"inst,omitempty"`  // hb, bye, name
}

// claim orders the connections of one id across nodes, without clocks: a
// node that admits a client claims it with a generation one past what it
// knows; a holder whose claim is lower closes its connection; a holder
// whose claim is higher answers held, and the claimant (the newer
// connection) claims again past it. Ties are broken by node, inst and
// serial, which every node compares alike.
type claim struct {
	G      uint64 `json:"g"`
	Node   string `json:"node"`
	Inst   string `json:"inst"`
	Serial uint64 `json:"serial"` // the connection, numbered by its node
}

// less orders claims.
func (c claim) less(o claim) bool {
	switch {
	case c.G != o.G:
		return c.G < o.G
	case c.Node != o.Node:
		return c.Node < o.Node
	case c.Inst != o.Inst:
		return c.Inst < o.Inst
	}
	return c.Serial < o.Serial
}

// Failures a serving node reports instead of a result.
const (
	failNotFound   = "not_found"
	failOverloaded = "overloaded"
	failTimeout    = "timeout"
	failBadRequest = "bad_request"
	failOther      = "failed"
)

// reply answers a request: for a call exactly one of Result, Error and
// Fail, or Ack (the call runs on Node and is taking time); for a
// broadcast or list, parts of Results or IDs, the last with Parts set to
// their number.
//
//easyjson:json
type reply struct {
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *wireError      `json:"error,omitempty"`
	Fail    string          `json:"fail,omitempty"`
	Message string          `json:"message,omitempty"`
	Node    string          `json:"node,omitempty"` // where, ack, ping, count, parts, name
	Inst    string          `json:"inst,omitempty"` // name: the answering node's inst
	Ack     bool            `json:"ack,omitempty"`
	Count   int             `json:"count,omitempty"`
	Results []clientReply   `json:"results,omitempty"`
	IDs     []string        `json:"ids,omitempty"`
	Parts   int             `json:"parts,omitempty"` // on the last part: how many
}

// wireError is the client's error reply, as in the wsrpc protocol.
type wireError struct {
	Type    string          `json:"type"`
	Message string          `json:"message"`
	Raw     json.RawMessage `json:"raw,omitempty"`
}

// clientReply is one client's answer within a broadcast reply. It has
// its own generated coders: reply's, promoted, would drop the id.
//
//easyjson:json
type clientReply struct {
	ID string `json:"id"`
	reply
}

// encode marshals a message to other nodes (generated code: no
// reflection on the path of every call).
func encode(v easyjson.Marshaler) []byte {
	b, _ := easyjson.Marshal(v)
	return b
}

// decode unmarshals a message of another node into v, naming what it is
// in the error.
func decode(data []byte, v easyjson.Unmarshaler, what string) error {
	if err := easyjson.Unmarshal(data, v); err != nil {
		return fmt.Errorf("wsrpc cluster: bad %s message from NATS: %w", what, err)
	}
	return nil
}
