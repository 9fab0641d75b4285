// Package intro holds the routes of the wsrpc introduction (the project's
// seed document) in Go, shared by the example server, the example client and
// the tests. Arithmetic is exact: integers stay integers of any size,
// anything else is computed as float64.
package intro

//go:generate go tool easyjson -no_std_marshalers -output_filename routes_easyjson.go routes.go

import (
	"context"
	"encoding/json"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

// SubtractParams are the named params of subtract.
//
//easyjson:json
type SubtractParams struct {
	A json.Number `json:"a"`
	B json.Number `json:"b"`
}

// SubtractRoute returns a − b.
func SubtractRoute(ctx context.Context, p *SubtractParams) (json.Number, error) {
	return Subtract(p.A, p.B)
}

// Storage is the introduction's key-value struct route: one instance per
// connection, created on first use; Init runs before its first call.
type Storage struct {
	wsrpc.Route `wsrpc:"proxy,inline" methods:"Get,Set"`
	data        map[string]json.RawMessage
}

// Init creates the connection's storage.
func (s *Storage) Init(ctx context.Context) {
	s.data = make(map[string]json.RawMessage)
}

// RouteDocs documents the methods for discovery (wsrpc.Documented).
func (s *Storage) RouteDocs() map[string]string {
	return map[string]string{
		"Init": "Creates the connection's storage (runs before its first call).",
		"Get":  "Returns the value stored under key, or default (null when absent).",
		"Set":  "Stores value under key, unchanged, and returns true.",
	}
}

// GetParams are the named params of kv.get.
//
//easyjson:json
type GetParams struct {
	Key     string          `json:"key"`
	Default json.RawMessage `json:"default,omitempty"`
}

// Get returns the value stored under key, or default (null when absent).
//
// The params come as a pointer, which puts the method on the library's
// allocation-free call path; the pointer is only valid during the call.
func (s *Storage) Get(ctx context.Context, p *GetParams) (json.RawMessage, error) {
	if v, ok := s.data[p.Key]; ok {
		return v, nil
	}
	if p.Default == nil {
		return json.RawMessage("null"), nil
	}
	return p.Default, nil
}

// SetParams are the named params of kv.set.
//
//easyjson:json
type SetParams struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

// Set stores value under key, unchanged, and returns true.
func (s *Storage) Set(ctx context.Context, p *SetParams) (bool, error) {
	s.data[p.Key] = p.Value // a copy made while decoding: safe to keep
	return true, nil
}

// MultiplyLoopback calls the connected client's multiply(x=10, y=20) and
// returns its result; an error reply from the client is passed on as is.
func MultiplyLoopback(ctx context.Context) (json.RawMessage, error) {
	var result json.RawMessage
	err := wsrpc.ConnFromContext(ctx).Call(ctx, "multiply", map[string]int{"x": 10, "y": 20}, &result)
	return result, err
}

// ServerRoutes returns the introduction's server routes: subtract, kv and
// multiply_loopback (plus the built-in ping).
func ServerRoutes() *wsrpc.Registry {
	reg := wsrpc.NewRegistry()
	reg.MustAdd("subtract", wsrpc.Doc(wsrpc.Inline(SubtractRoute), "Returns a − b, exactly for integers of any size (up to 4300 digits)."))
	reg.MustAdd("kv", &Storage{})
	reg.MustAdd("multiply_loopback", wsrpc.Doc(MultiplyLoopback, "Calls the connected client's multiply(x=10, y=20) and returns its result."))
	return reg
}

// MultiplyParams are the named params of multiply.
//
//easyjson:json
type MultiplyParams struct {
	X json.Number `json:"x"`
	Y json.Number `json:"y"`
}

// MultiplyRoute returns x × y; the server calls it through multiply_loopback.
func MultiplyRoute(ctx context.Context, p *MultiplyParams) (json.Number, error) {
	return Multiply(p.X, p.Y)
}

// ClientRoutes returns the introduction's client routes: multiply (plus the
// built-in ping).
func ClientRoutes() *wsrpc.Registry {
	reg := wsrpc.NewRegistry()
	reg.MustAdd("multiply", wsrpc.Doc(wsrpc.Inline(MultiplyRoute), "Returns x × y."))
	return reg
}
