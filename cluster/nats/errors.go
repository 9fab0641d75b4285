package nats

import "errors"

// Errors of the cluster. Match them with errors.Is; the errors returned wrap
// them with the client id or node name concerned.
var (
	// ErrClientNotFound: no node of the cluster has a client with that id
	// (it never connected, it left, or it left while the call ran).
	ErrClientNotFound = errors.New("wsrpc cluster: client not connected to any node")

	// ErrNodeDown: the node serving a request went down during it (its
	// heartbeats stopped for Options.HeartbeatExpiry, it left the cluster
	// or restarted, or, for a node asked by name, NATS has no subscriber
	// for it). A call may or may not have reached the client; retry once
	// the client has reconnected.
	ErrNodeDown = errors.New("wsrpc cluster: the client's node is down or unreachable")

	// ErrOverloaded: too many calls are in flight (Options.MaxInFlight on
	// the calling node, Options.MaxServing on the node that serves them).
	// Nothing was sent to the client; retry later or slow down.
	ErrOverloaded = errors.New("wsrpc cluster: too many remote calls in flight; retry later")

	// ErrClosed: the Node was closed.
	ErrClosed = errors.New("wsrpc cluster: node closed")
)

// ErrClusterUnavailable: NATS is unreachable (the node's connection is
// down or reconnecting, or NATS did not answer within
// Options.UnavailableTimeout). Nothing was delivered, or it is unknown
// whether it was; retry once NATS is back.
var ErrClusterUnavailable = errors.New("wsrpc cluster: NATS is unreachable")

// ErrNameInUse: New found a live node of the cluster with the same
// Options.Name. Give each node its own name.
var ErrNameInUse = errors.New("wsrpc cluster: a live node already has this name")
