// Package testkit holds the helpers that the root package's tests and
// server/'s tests share: the test routes (Registry), a server with them
// (NewServer), a client (Dial), a bounded context (Ctx) and a bare WebSocket
// client that sends and reads exact frames (RawConn). Only tests import it.
package testkit

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/examples/introduction/intro"
	"github.com/wsrpc/wsrpc-go/server"
)

// Counter is a struct route whose Init is observable.
type Counter struct {
	wsrpc.Route `wsrpc:"proxy" methods:"Get,Add"`
	value       int
	inits       int
}

// CounterState is what Counter's methods return.
type CounterState struct {
	Value int `json:"value"`
	Inits int `json:"inits"`
}

// Init resets the value and counts the call.
func (c *Counter) Init(ctx context.Context) string {
	c.value = 0
	c.inits++
	return "init ran"
}

// Get returns the state.
func (c *Counter) Get(ctx context.Context) CounterState {
	return CounterState{c.value, c.inits}
}

// Add adds n to the value.
func (c *Counter) Add(ctx context.Context, p struct {
	N int `json:"n"`
}) CounterState {
	c.value += p.N
	return CounterState{c.value, c.inits}
}

// Admin exposes every exported method but Shutdown.
type Admin struct {
	wsrpc.Route `wsrpc:"allowed" noproxy:"Shutdown"`
}

// Status answers "ok".
func (a *Admin) Status(ctx context.Context) string { return "ok" }

// Shutdown is the method Admin does not expose.
func (a *Admin) Shutdown(ctx context.Context) {}

// Registry is the introduction's routes plus routes for edge cases.
func Registry(t testing.TB) *wsrpc.Registry {
	reg := intro.ServerRoutes()
	add := func(name string, h any) { require.NoError(t, reg.Add(name, h)) }
	add("subtract_positional", func(a, b json.Number) (json.Number, error) { return intro.Subtract(a, b) })
	add("negate", func(n int) int { return -n })
	add("names", func(p struct {
		Method string `json:"method"`
		Serial int    `json:"serial"`
		Self   string `json:"self"`
	}) any {
		return p
	})
	add("fail", func(p struct {
		Message string `json:"message"`
	}) error {
		return wsrpc.NewError("KeyError", p.Message)
	})
	add("panic", func() error { panic("boom") })
	add("nan", func() float64 { return math.NaN() })
	add("bytes", func() []byte { return []byte("\x00\x01hello") })
	add("counter", &Counter{})
	add("admin", &Admin{})
	add("sleep", func(ctx context.Context, p struct {
		Ms int `json:"ms"`
	}) (bool, error) {
		select {
		case <-time.After(time.Duration(p.Ms) * time.Millisecond):
			return true, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	})
	add("echo", func(p json.RawMessage) json.RawMessage { return p })
	return reg
}

// HoldRoute adds "hold" to srv: each call reports on started, then returns
// true once release is closed (false if its context ends first).
func HoldRoute(t testing.TB, srv *server.Server) (started chan struct{}, release chan struct{}) {
	t.Helper()
	started, release = make(chan struct{}, 16), make(chan struct{})
	require.NoError(t, srv.Registry().Add("hold", func(ctx context.Context) bool {
		started <- struct{}{}
		select {
		case <-release:
			return true
		case <-ctx.Done():
			return false
		}
	}))
	return started, release
}
