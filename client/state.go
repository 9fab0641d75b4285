package client

import (
	"strconv"
	"time"
)

// State is where a Client stands with its server.
type State int32

// The states of a Client, in the order a client goes through them.
const (
	// StateConnecting: Dial has not connected yet.
	StateConnecting State = iota
	// StateConnected: the connection is up and OnConnect has run; calls
	// go out at once (OnStateChange hears of it before the calls waiting
	// for the connection proceed).
	StateConnected
	// StateDisconnected: the connection was lost (StateChange.Err says
	// why). With Reconnect, StateReconnecting follows; calls wait.
	StateDisconnected
	// StateReconnecting: waiting StateChange.Wait before connection attempt
	// StateChange.Attempt (StateChange.Err is why the previous attempt
	// failed, nil for the first).
	StateReconnecting
	// StateClosed: for good, after Close or after a loss without Reconnect.
	StateClosed
)

// String returns the state's name, such as "connected".
func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateDisconnected:
		return "disconnected"
	case StateReconnecting:
		return "reconnecting"
	case StateClosed:
		return "closed"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// StateChange is what Options.OnStateChange is told.
type StateChange struct {
	State State
	// Err is why the connection was lost (StateDisconnected, matching
	// wsrpc.ErrClosed), or why the previous attempt failed
	// (StateReconnecting).
	Err error
	// Attempt numbers the connection attempts since the last connection
	// that stayed up (StateReconnecting, and StateConnected after one).
	Attempt int
	// Wait is the backoff before the attempt (StateReconnecting).
	Wait time.Duration
}

// State returns the client's current state.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// setState records ch and tells OnStateChange. Only one goroutine at a time
// changes the state: Dial's, then the reconnect loop's.
func (c *Client) setState(ch StateChange) {
	c.mu.Lock()
	c.state = ch.State
	if ch.State == StateReconnecting && ch.Err != nil {
		c.lastErr = ch.Err
	}
	c.mu.Unlock()
	if f := c.opts.OnStateChange; f != nil {
		f(ch)
	}
}
