// Command cluster is the introduction's server as one node of a cluster:
// its clients can call the clients of every node by id, and shout to all.
// It serves the WebSocket at /ws/ with the introduction's routes
// (subtract, kv, multiply_loopback) plus:
//
//	whoami                      the caller's connection id
//	tell{to, method, params}    calls method on client `to`, on any node; its result
//	shout{event}                emits event to every client of every node; null
//
// A newer connection with an id replaces the older, on whichever node, so
// a client proves its id with a token signed by the secret every node
// shares (-id-secret, or WSRPC_ID_SECRET): ws://127.0.0.1:8001/ws/?token=T,
// or the header Authorization: Bearer T. A client without a token gets a
// generated id (whoami tells it); one that claims an id (?id= or
// X-Client-Id) without a token proving it is refused (HTTP 403), and the
// connection holding that id stays. -mint-token ID prints a token:
//
//	export WSRPC_ID_SECRET=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
//	go run ./examples/cluster -mint-token alice    # valid for -token-ttl, 24h
//
// -insecure-ids takes ?id= and X-Client-Id as claimed, for local demos
// only: any client can then disconnect any other.
//
//	go run ./examples/cluster                      # a cluster of one, NATS embedded
//	go run ./examples/cluster/natsd &              # NATS on 127.0.0.1:4222
//	export WSRPC_CLUSTER_SECRET=$(openssl rand -hex 32)   # the same on every node
//	go run ./examples/cluster -node n1 -addr 127.0.0.1:8001 -nats nats://127.0.0.1:4222
//	go run ./examples/cluster -node n2 -addr 127.0.0.1:8002 -nats nats://127.0.0.1:4222
//
// (`make cluster` does the latter with three nodes.) NATS credentials and
// TLS: -nats-creds, -nats-nkey, -nats-user/-nats-password, -nats-token,
// -nats-tls-ca, -nats-tls-cert/-nats-tls-key. It runs until SIGINT or
// SIGTERM, then leaves the cluster and exits 0.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	wsrpc "github.com/wsrpc/wsrpc-go"
	wsnats "github.com/wsrpc/wsrpc-go/cluster/nats"
	"github.com/wsrpc/wsrpc-go/examples/introduction/intro"
	"github.com/wsrpc/wsrpc-go/server"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "address to listen on")
	var o wsnats.Options
	natsFlags(flag.CommandLine, &o)
	idf := addIDFlags(flag.CommandLine)
	flag.Parse()
	envDefaults(&o)
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	o.Logger = log
	ids, done, err := idf.resolve(os.Stdout, os.Getenv, log)
	if err == nil && !done {
		err = run(*addr, &o, ids.identify, log)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

// app holds the routes that need the node.
type app struct{ node *wsnats.Node }

// TellParams are the params of tell.
type TellParams struct {
	To     string          `json:"to"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params,omitempty"` // optional
}

// ShoutParams are the params of shout.
type ShoutParams struct {
	Event json.RawMessage `json:"event"`
}

func whoami(ctx context.Context) (string, error) { return wsrpc.ConnFromContext(ctx).ID(), nil }

func (a *app) tell(ctx context.Context, p *TellParams) (json.RawMessage, error) {
	if p.To == "" || p.Method == "" {
		return nil, wsrpc.NewError(wsrpc.TypeValueError, "tell needs to and method")
	}
	var params any
	if len(p.Params) > 0 {
		params = p.Params
	}
	var res json.RawMessage
	err := a.node.Call(ctx, p.To, p.Method, params, &res)
	switch {
	case errors.Is(err, wsnats.ErrClientNotFound):
		return nil, wsrpc.NewError("LookupError", err.Error())
	case errors.Is(err, wsnats.ErrNodeDown):
		return nil, wsrpc.NewError("ConnectionError", err.Error())
	}
	return res, err
}

func (a *app) shout(ctx context.Context, p *ShoutParams) (json.RawMessage, error) {
	msg, err := wsrpc.EncodeEvent(p.Event)
	if err != nil {
		return nil, wsrpc.NewError(wsrpc.TypeValueError, err.Error())
	}
	if err := a.node.EmitEncoded(ctx, msg); err != nil {
		return nil, err
	}
	return json.RawMessage("null"), nil
}

// routes returns the introduction's routes plus whoami, tell and shout.
func (a *app) routes() *wsrpc.Registry {
	reg := intro.ServerRoutes()
	reg.MustAdd("whoami", whoami)
	reg.MustAdd("tell", a.tell)
	reg.MustAdd("shout", a.shout)
	return reg
}

// natsFlags binds the flags of the node's cluster options to o; the
// secrets and passwords may come from the environment instead (they
// would show in ps).
func natsFlags(fs *flag.FlagSet, o *wsnats.Options) {
	fs.StringVar(&o.URL, "nats", "", "NATS server(s) to join, e.g. nats://127.0.0.1:4222 (default: an embedded NATS server, a cluster of one)")
	fs.StringVar(&o.Name, "node", "", "this node's name in the cluster (default: host name and pid)")
	fs.StringVar(&o.Secret, "cluster-secret", "", "the cluster secret, the same on every node, 16 bytes or more (default env WSRPC_CLUSTER_SECRET); required with -nats")
	fs.StringVar(&o.PreviousSecret, "cluster-secret-previous", "", "a second secret accepted during a rotation (default env WSRPC_CLUSTER_SECRET_PREVIOUS)")
	fs.StringVar(&o.CredsFile, "nats-creds", "", "NATS credentials file (user JWT and NKey seed)")
	fs.StringVar(&o.NKeySeedFile, "nats-nkey", "", "file holding the NKey seed to authenticate to NATS with")
	fs.StringVar(&o.User, "nats-user", "", "NATS user")
	fs.StringVar(&o.Password, "nats-password", "", "NATS password (default env WSRPC_NATS_PASSWORD)")
	fs.StringVar(&o.Token, "nats-token", "", "NATS token (default env WSRPC_NATS_TOKEN)")
	fs.StringVar(&o.TLSCAFile, "nats-tls-ca", "", "CA certificate (PEM) that signed NATS's certificate")
	fs.StringVar(&o.TLSCertFile, "nats-tls-cert", "", "client certificate (PEM) for NATS, with -nats-tls-key")
	fs.StringVar(&o.TLSKeyFile, "nats-tls-key", "", "client key (PEM) for NATS")
}

// envDefaults fills the secrets not given as flags from the environment.
func envDefaults(o *wsnats.Options) {
	for _, e := range []struct {
		v   *string
		env string
	}{
		{&o.Secret, "WSRPC_CLUSTER_SECRET"}, {&o.PreviousSecret, "WSRPC_CLUSTER_SECRET_PREVIOUS"},
		{&o.Password, "WSRPC_NATS_PASSWORD"}, {&o.Token, "WSRPC_NATS_TOKEN"},
	} {
		if *e.v == "" {
			*e.v = os.Getenv(e.env)
		}
	}
}

func run(addr string, opts *wsnats.Options, identify func(*http.Request) (string, any, error), log *slog.Logger) error {
	a := &app{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	node, err := wsnats.New(ctx, a.routes(), &server.Options{
		Options:  wsrpc.Options{Logger: log},
		Identify: identify,
		Path:     "/ws/",
	}, opts)
	cancel()
	if err != nil {
		return err
	}
	a.node = node
	defer node.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	sig, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- node.Server().Serve(ln) }()
	log.Info("wsrpc cluster node listening", "node", node.Name(), "url", "ws://"+ln.Addr().String()+"/ws/")
	select {
	case err := <-errc:
		return err
	case <-sig.Done():
	}
	log.Info("leaving the cluster")
	_ = ln.Close()
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := node.Server().Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
