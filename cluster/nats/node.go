package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	natsio "github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/server"
)

// Node is one server of a cluster: a *server.Server whose clients the other
// nodes can reach, and which reaches theirs. Its methods are safe for
// concurrent use.
//
// Entry points: New joins the cluster; the server's OnConnect and OnClose
// hooks feed the local table (local.go), which announces joins and leaves;
// the presence subscription feeds the view of the other nodes (view.go);
// Call (call.go) and Emit and Broadcast (fanout.go) go through NATS to the
// nodes that serve.go answers on.
type Node struct {
	opts   Options
	name   string
	inst   string // this incarnation of the node, new at each New
	srv    *server.Server
	nc     *natsio.Conn
	nsrv   *natsserver.Server // the embedded NATS server, or nil
	log    *slog.Logger
	subj   subjects
	ctx    context.Context // ends with Close
	cancel context.CancelFunc
	tasks  group // the node's goroutines

	local   localClients
	view    view
	calls   callTable
	serving chan struct{} // one token per call from another node running

	closeOnce sync.Once
}

// subjects are the NATS subjects of a cluster (see doc.go).
type subjects struct {
	presence, emit, replies string
	prefix                  string
}

func newSubjects(prefix, name, inst string) subjects {
	return subjects{
		prefix:   prefix,
		presence: prefix + ".presence",
		emit:     prefix + ".emit",
		replies:  prefix + ".reply." + name + "." + inst,
	}
}

func (s subjects) node(name, what string) string { return s.prefix + ".node." + name + "." + what }

// New makes the server of one node: server.New(reg, sopts) with hooks that
// keep the cluster informed of its clients (composed with sopts.Hooks,
// which still run), and joins the cluster over NATS as opts says (an
// embedded NATS server when opts.URL is empty). Serve the returned node's
// Server as any server.Server; Close leaves the cluster.
//
// Client ids are the connections' ids (Conn.ID): give sopts an Identify
// so that clients have ids others can call them by.
func New(ctx context.Context, reg *wsrpc.Registry, sopts *server.Options, opts *Options) (*Node, error) {
	o, err := opts.resolved()
	if err != nil {
		return nil, err
	}
	n := &Node{opts: o, name: o.Name, inst: nuid.Next(), log: o.Logger.With("node", o.Name)}
	n.subj = newSubjects(o.Subject, n.name, n.inst)
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.local.init()
	n.view.init()
	n.calls.init(o.MaxInFlight)
	n.serving = make(chan struct{}, o.MaxServing)

	var so server.Options
	if sopts != nil {
		so = *sopts
	}
	so.Hooks = n.hooks(so.Hooks)
	n.srv = server.New(reg, &so)

	if err := n.connect(ctx); err != nil {
		n.cancel()
		n.shutdownNATS()
		return nil, err
	}
	if err := n.subscribe(); err != nil {
		n.cancel()
		n.shutdownNATS()
		return nil, fmt.Errorf("wsrpc cluster: subscribe on NATS: %w", err)
	}
	n.heartbeat()
	if err := n.nc.FlushWithContext(ctx); err != nil {
		n.cancel()
		n.shutdownNATS()
		return nil, fmt.Errorf("wsrpc cluster: join: %w", err)
	}
	n.tasks.Go(n.tick)
	n.log.Info("wsrpc cluster node joined", "nats", n.nc.ConnectedUrlRedacted(), "inst", n.inst)
	return n, nil
}

// hooks returns user's hooks (nil for none) with OnConnect and OnClose
// wrapped to keep the local table; user's run after the table is told.
func (n *Node) hooks(user *wsrpc.Hooks) *wsrpc.Hooks {
	return wsrpc.ChainHooks(&wsrpc.Hooks{
		OnConnect: func(ctx context.Context, c *wsrpc.Conn) error {
			n.joined(c)
			return nil
		},
		OnClose: func(c *wsrpc.Conn, err error) { n.left(c) },
	}, user)
}

// connect connects to opts.URL, or starts the embedded NATS server and
// connects to it.
func (n *Node) connect(ctx context.Context) error {
	nopts := append([]natsio.Option{
		natsio.Name("wsrpc-" + n.name),
		natsio.MaxReconnects(-1),
		natsio.ReconnectWait(250 * time.Millisecond),
	}, n.opts.NATSOptions...)
	url := n.opts.URL
	if url == "" {
		s, err := startEmbedded(n.opts.EmbeddedListen)
		if err != nil {
			return err
		}
		n.nsrv = s
		if n.opts.EmbeddedListen == "" {
			nopts = append(nopts, natsio.InProcessServer(s))
		} else {
			url = s.ClientURL()
		}
	}
	type result struct {
		nc  *natsio.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		nc, err := natsio.Connect(url, nopts...)
		done <- result{nc, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return fmt.Errorf("wsrpc cluster: connect to NATS at %q: %w (is nats-server running there? leave URL empty for an embedded one)", url, r.err)
		}
		n.nc = r.nc
		return nil
	case <-ctx.Done():
		go func() {
			if r := <-done; r.nc != nil {
				r.nc.Close()
			}
		}()
		return fmt.Errorf("wsrpc cluster: connect to NATS at %q: %w", url, ctx.Err())
	}
}

// startEmbedded starts a NATS server in the process, listening on listen
// ("host:port"), or on nothing when listen is empty.
func startEmbedded(listen string) (*natsserver.Server, error) {
	so := &natsserver.Options{NoLog: true, NoSigs: true, DontListen: listen == ""}
	if listen != "" {
		host, port, err := splitHostPort(listen)
		if err != nil {
			return nil, err
		}
		so.Host, so.Port = host, port
	}
	s, err := natsserver.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("wsrpc cluster: embedded NATS server: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, errors.New("wsrpc cluster: the embedded NATS server did not start within 10s (is " + listen + " in use?)")
	}
	return s, nil
}

// subscribe subscribes to the cluster's subjects, each bounded by
// MaxPending.
func (n *Node) subscribe() error {
	subs := []struct {
		subject string
		handle  natsio.MsgHandler
	}{
		{n.subj.presence, n.onPresence},
		{n.subj.emit, n.onEmit},
		{n.subj.replies + ".*", n.onReply},
		{n.subj.node(n.name, "call"), n.onCall},
		{n.subj.node(n.name, "broadcast"), n.onBroadcast},
		{n.subj.node(n.name, "snapshot"), n.onSnapshot},
	}
	for _, s := range subs {
		sub, err := n.nc.Subscribe(s.subject, s.handle)
		if err != nil {
			return err
		}
		if err := sub.SetPendingLimits(n.opts.MaxPending, 64<<20); err != nil {
			return err
		}
	}
	return nil
}

// Name returns the node's name in the cluster.
func (n *Node) Name() string { return n.name }

// Server returns the node's server: mount it (it is an http.Handler) or
// Serve it as any server.Server.
func (n *Node) Server() *server.Server { return n.srv }

// NATS returns the node's NATS connection.
func (n *Node) NATS() *natsio.Conn { return n.nc }

// Clients returns the cluster's view of its clients: the node of each
// client id, this node's own clients included. Other nodes' clients are
// as their last announcements said, so a client that just connected
// elsewhere may be missing for a moment.
func (n *Node) Clients() map[string]string {
	out := n.view.clients()
	for _, id := range n.local.ids() {
		out[id] = n.name
	}
	return out
}

// Nodes returns the names of the live nodes, this one included.
func (n *Node) Nodes() []string { return append(n.view.nodes(), n.name) }

// Close leaves the cluster: the other nodes are told at once (their calls
// to this node's clients fail with ErrNodeDown), the server is closed, and
// the embedded NATS server, if any, stops.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.publishPresence(presenceMsg{Kind: kindBye})
		_ = n.nc.FlushTimeout(time.Second) // bounded: NATS may be gone
		n.stop()
	})
	return nil
}

// stop ends the node without saying goodbye: what a crash looks like to
// the other nodes (tests use it directly).
func (n *Node) stop() {
	n.cancel()
	n.nc.Close() // first: a crashed node answers nothing more
	_ = n.srv.Close()
	n.calls.failAll(ErrClosed)
	n.tasks.closeAndWait()
	n.shutdownNATS()
}

func (n *Node) shutdownNATS() {
	if n.nc != nil {
		n.nc.Close()
	}
	if n.nsrv != nil {
		n.nsrv.Shutdown()
		n.nsrv.WaitForShutdown()
	}
}

// tick publishes heartbeats and expires silent nodes until Close.
func (n *Node) tick() {
	t := time.NewTicker(n.opts.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
			n.heartbeat()
			for _, name := range n.view.expire(time.Now().Add(-n.opts.HeartbeatExpiry)) {
				n.log.Warn("wsrpc cluster: node down: no heartbeat", "down", name, "expiry", n.opts.HeartbeatExpiry)
				n.calls.failNode(name, fmt.Errorf("%w: node %s sent no heartbeat for %v", ErrNodeDown, name, n.opts.HeartbeatExpiry))
			}
		}
	}
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("wsrpc cluster: EmbeddedListen %q: want host:port: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("wsrpc cluster: EmbeddedListen %q: the port must be a number", addr)
	}
	return host, port, nil
}
