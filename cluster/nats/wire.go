package nats

import (
	"encoding/json"
	"fmt"
)

// The messages between nodes. See the package documentation for the
// subjects they travel on; every one is a JSON object, except an emitted
// event, which is the event's WebSocket message as it is sent to clients.

// Kinds of presence message.
const (
	kindHeartbeat = "hb"
	kindJoin      = "join"
	kindLeave     = "leave"
	kindBye       = "bye"
)

// presenceMsg is one message on <prefix>.presence.
type presenceMsg struct {
	Kind string `json:"t"`
	Node string `json:"node"`
	Inst string `json:"inst"`         // the node's incarnation: new at each start
	Seq  uint64 `json:"seq"`          // the node's presence sequence after this message
	ID   string `json:"id,omitempty"` // join, leave: the client
	At   int64  `json:"at,omitempty"` // join: when the client connected (Unix ns)
	N    int    `json:"n,omitempty"`  // hb: the node's client count
}

// member is one client of a snapshot.
type member struct {
	ID string `json:"id"`
	At int64  `json:"at"`
}

// snapshotPart is one part of a node's answer to <prefix>.node.<name>.snapshot.
type snapshotPart struct {
	Node    string   `json:"node"`
	Inst    string   `json:"inst"`
	Seq     uint64   `json:"seq"`
	Part    int      `json:"part"`
	Parts   int      `json:"parts"`
	Clients []member `json:"clients"`
}

// callReq is a request on <prefix>.node.<name>.call.
type callReq struct {
	To        string          `json:"to"`
	Method    string          `json:"method"`
	Params    json.RawMessage `json:"params,omitempty"`
	TimeoutMS int64           `json:"timeout_ms,omitempty"`
}

// broadcastReq is a request on <prefix>.node.<name>.broadcast.
type broadcastReq struct {
	Method    string          `json:"method"`
	Params    json.RawMessage `json:"params,omitempty"`
	TimeoutMS int64           `json:"timeout_ms,omitempty"`
}

// Failures a serving node reports instead of a result.
const (
	failNotFound   = "not_found"
	failOverloaded = "overloaded"
	failTimeout    = "timeout"
	failTooLarge   = "too_large"
	failBadRequest = "bad_request"
	failOther      = "failed"
)

// reply answers a call: exactly one of Result, Error and Fail.
type reply struct {
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *wireError      `json:"error,omitempty"`
	Fail    string          `json:"fail,omitempty"`
	Message string          `json:"message,omitempty"`
}

// wireError is the client's error reply, as in the wsrpc protocol.
type wireError struct {
	Type    string          `json:"type"`
	Message string          `json:"message"`
	Raw     json.RawMessage `json:"raw,omitempty"`
}

// broadcastReply answers a broadcast: one entry per client of the node.
type broadcastReply struct {
	Results []clientReply `json:"results,omitempty"`
	Fail    string        `json:"fail,omitempty"`
	Message string        `json:"message,omitempty"`
}

// clientReply is one client's answer within a broadcastReply.
type clientReply struct {
	ID string `json:"id"`
	reply
}

// decode unmarshals a message of another node into v, naming what it is
// in the error.
func decode(data []byte, v any, what string) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("wsrpc cluster: bad %s message from NATS: %w", what, err)
	}
	return nil
}
