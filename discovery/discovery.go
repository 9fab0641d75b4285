// Package discovery serves an OpenRPC 1.3 description of a registry's
// routes as the built-in route "rpc.discover", so that a peer (the wsrpc
// command's describe and gen, a browser's generated typings, another
// service) learns every exposed method with its params, result and error
// types. It is a module of its own so that the root module does not depend
// on its JSON Schema reflector, github.com/invopop/jsonschema.
//
// Turn it on for a server's routes, or a client's:
//
//	reg := intro.ServerRoutes()
//	discovery.MustRegister(reg, &discovery.Options{Title: "introduction"})
//
// The document is made from Registry.Routes (see the package
// github.com/wsrpc/wsrpc-go/openrpc for its conventions): named params are
// described from the params struct and its json tags, required as the route
// enforces them; a field's jsonschema tags (description=..., enum=...,
// minimum=...) are honoured. Docs come from wsrpc.Doc and wsrpc.Documented.
// Methods a struct route does not expose never appear.
//
// The document is made when Register is called and again only after the
// registry changed (Registry.Version), never per call.
package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/openrpc"
)

// Options describe the document. A nil *Options means the defaults.
type Options struct {
	// Title and Version fill the document's info; defaults "wsrpc" and
	// "0.0.0".
	Title   string
	Version string
	// Description is the document's info.description.
	Description string
	// Peer, when set, holds the routes this side calls on its peer, which
	// the peer must expose: a server lists the browser page's routes, so
	// that generated typings tell the page what to implement. Only the
	// routes' shapes are read. They are listed under x-wsrpc-peer-methods.
	Peer *wsrpc.Registry
}

// ErrDocument is wrapped by errors making a document.
var ErrDocument = errors.New("discovery: cannot describe the routes")

// doc is the route's description of itself.
const doc = "Returns the OpenRPC document describing every method this peer answers."

// Register adds the route rpc.discover to reg, answering the document of
// reg's routes (rpc.discover included). It fails when a route's types cannot
// be described, or rpc.discover cannot be added.
func Register(reg *wsrpc.Registry, opts *Options) error {
	if reg == nil {
		return fmt.Errorf("%w: the registry is nil", ErrDocument)
	}
	c := &cache{reg: reg}
	if opts != nil {
		c.opts = *opts
	}
	if err := reg.Add(openrpc.MethodName, wsrpc.Doc(c.discover, doc)); err != nil {
		return err
	}
	if _, err := c.document(); err != nil {
		_ = reg.Remove(openrpc.MethodName)
		return err
	}
	return nil
}

// MustRegister is like Register but panics on error, for setup code.
func MustRegister(reg *wsrpc.Registry, opts *Options) {
	if err := Register(reg, opts); err != nil {
		panic(err)
	}
}

// Document returns the OpenRPC document of reg's routes as Register would
// serve it (without adding rpc.discover).
func Document(reg *wsrpc.Registry, opts *Options) ([]byte, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	return build(reg, &o)
}

// cache holds the document of one registry, made again when the registry
// changed.
type cache struct {
	reg  *wsrpc.Registry
	opts Options

	mu      sync.Mutex // protects the following
	version uint64
	doc     json.RawMessage
}

func (c *cache) discover(ctx context.Context) (json.RawMessage, error) {
	return c.document()
}

func (c *cache) document() (json.RawMessage, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.reg.Version()
	if c.doc != nil && v == c.version {
		return c.doc, nil
	}
	d, err := build(c.reg, &c.opts)
	if err != nil {
		return nil, err
	}
	c.doc, c.version = d, v
	return d, nil
}

// build makes the document.
func build(reg *wsrpc.Registry, o *Options) ([]byte, error) {
	s := newSchemas()
	d := openrpc.Document{
		OpenRPC: openrpc.Version,
		Info:    openrpc.Info{Title: o.Title, Version: o.Version, Description: o.Description},
		Methods: []openrpc.Method{},
	}
	if d.Info.Title == "" {
		d.Info.Title = "wsrpc"
	}
	if d.Info.Version == "" {
		d.Info.Version = "0.0.0"
	}
	for _, ri := range reg.Routes() {
		m, err := s.method(ri)
		if err != nil {
			return nil, err
		}
		d.Methods = append(d.Methods, m)
	}
	if o.Peer != nil {
		for _, ri := range o.Peer.Routes() {
			if ri.Name == openrpc.MethodName || ri.Name == "ping" {
				continue // answered by every peer
			}
			m, err := s.method(ri)
			if err != nil {
				return nil, err
			}
			d.PeerMethods = append(d.PeerMethods, m)
		}
	}
	if len(s.defs) > 0 {
		d.Components = &openrpc.Components{Schemas: s.defs}
	}
	return json.Marshal(d)
}
