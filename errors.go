package wsrpc

import (
	"encoding/json"
	"errors"
)

// Sentinel errors. Match them with errors.Is.
var (
	// ErrClosed is returned by calls on a connection that is closed, and by
	// calls that were still waiting for their reply when it closed.
	ErrClosed = errors.New("wsrpc: connection closed")

	// ErrRouteNotFound is returned by Registry.Remove for a name that is not
	// registered.
	ErrRouteNotFound = errors.New("wsrpc: route not found")

	// ErrInvalidRoute is wrapped by every error Registry.Add returns for a
	// handler that breaks the route rules; the message names the method and
	// the rule (see the package documentation).
	ErrInvalidRoute = errors.New("wsrpc: invalid route")

	// ErrInlineCall is returned by Conn.Call made from an inline handler (see
	// Inline): such a handler runs in the connection's read path, so
	// the reply could never be handled while it waits. Drop the inline mark.
	ErrInlineCall = errors.New("wsrpc: an inline handler cannot call the peer: register it without Inline (or the inline tag flag)")

	// ErrConnectRefused wraps the error of an OnConnect hook that refused
	// its connection (see Hooks.OnConnect): Conn.Err, the OnClose hook and,
	// on the client, Dial report it. errors.Is finds the hook's own error
	// too.
	ErrConnectRefused = errors.New("wsrpc: the OnConnect hook refused the connection")

	// ErrSendQueueFull is the reason a connection is closed when its peer does
	// not read fast enough and the bounded send queue overflows.
	ErrSendQueueFull = errors.New("wsrpc: send queue full: the peer is not reading its replies")
)

// Error types the library itself puts on the wire. They are the Python
// reference's exception class names, so Python and JS peers see what they
// expect.
const (
	TypeNotImplemented = "NotImplementedError" // unknown route or member
	TypeTypeError      = "TypeError"           // params that do not fit the handler
	TypeValueError     = "ValueError"          // a result that cannot be encoded
	TypeRuntimeError   = "RuntimeError"        // handler panic, concurrency limit
	TypeTimeoutError   = "TimeoutError"        // a handler's context deadline
	TypeCancelledError = "CancelledError"      // a handler's context cancelled
	TypeException      = "Exception"           // any other error a handler returns
)

// Error is an error reply on the wire: {"type": ..., "message": ...}.
//
// A handler returns an *Error (or an error wrapping one) to choose the type and
// message its caller sees; any other error is sent with type "Exception" (or
// "TimeoutError" for context.DeadlineExceeded) and its Error() text.
//
// A call whose peer answered with an error returns an *Error; match it with
// errors.As. Raw holds the error member exactly as received, which may be an
// object with extra members, or a string such as the JS client's
// "Route not found".
type Error struct {
	Type    string
	Message string
	Raw     json.RawMessage
}

// NewError returns an error that a handler can return to send the given type
// and message to its caller.
func NewError(typ, message string) *Error {
	return &Error{Type: typ, Message: message}
}

// Error implements the error interface as "Type: Message".
func (e *Error) Error() string {
	switch {
	case e.Type == "":
		return e.Message
	case e.Message == "":
		return e.Type
	}
	return e.Type + ": " + e.Message
}

// Is reports whether target is an *Error of the same Type, so that
// errors.Is(err, &wsrpc.Error{Type: "KeyError"}) matches any message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Type == e.Type && (t.Message == "" || t.Message == e.Message)
}

// MarshalJSON encodes the error in its wire shape, {"type": ..., "message": ...},
// so a handler may also return an *Error as a result value.
func (e *Error) MarshalJSON() ([]byte, error) {
	return json.Marshal(wireError{Type: e.Type, Message: e.Message})
}

// ReplyType returns the error type the peer gets in its error reply when a
// handler (or an interceptor) returns err: an *Error's Type, TimeoutError
// for context.DeadlineExceeded, RuntimeError for a panic, Exception for any
// other error; "" for nil. Metrics label outcomes with it.
func ReplyType(err error) string {
	if err == nil {
		return ""
	}
	typ, _ := errorTypeMessage(err)
	return typ
}
