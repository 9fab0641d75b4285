package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
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
// hooks subscribe and unsubscribe each client's subject (local.go); the
// requests on those and on the node's own subjects are verified and served
// by serve.go; Call (call.go), Emit and Broadcast (fanout.go), Count and
// Clients (peers.go) send them; Rooms (rooms.go, rooms_history.go) carries
// rooms' events and keeps their history.
type Node struct {
	opts   Options
	name   string
	inst   string // this incarnation of the node, new at each New
	srv    *server.Server
	nc     *natsio.Conn
	nsrv   *natsserver.Server // the embedded NATS server, or nil
	log    *slog.Logger
	subj   subjects
	auth   *auth
	ctx    context.Context // ends with Close
	cancel context.CancelFunc
	tasks  group // the node's goroutines

	inbox   chan *natsio.Msg // requests to this node's clients and services
	local   localClients
	hold    nameClaim // this node's hold on its name
	peers   peers
	calls   callTable
	served  served
	workers workers
	stats   counters
	roomsOf roomsOf // the node's rooms, once Rooms made them
	// reconnected is when this node noticed NATS came back (Unix ns), 0
	// before; reconnects is NATS's count of reconnections then.
	reconnected atomic.Int64
	settled     atomic.Bool // every node answered since
	reconnMu    sync.Mutex  // protects reconnects
	reconnects  uint64

	// testHookDispatch, when set, runs before each request is handled
	// (tests stall a node with it).
	testHookDispatch atomic.Pointer[func()]

	closeOnce sync.Once
}

// counters are the node's Stats.
type counters struct {
	rejected, droppedEvents, expired, roomEvents atomic.Int64
}

// Stats counts what a node refused or dropped.
type Stats struct {
	// Rejected counts messages dropped as not from a node of the cluster
	// (no valid signature, outside the replay window, replayed) or
	// malformed.
	Rejected int64
	// DroppedEvents counts signed events not passed to clients: not a
	// JSON object without "id", or not valid UTF-8.
	DroppedEvents int64
	// Expired counts calls from other nodes not started because their
	// caller's deadline had passed.
	Expired int64
	// RoomEvents counts the room events from other nodes handed to this
	// node's members (each once, however many members it has).
	RoomEvents int64
}

// Stats returns what the node refused or dropped so far.
func (n *Node) Stats() Stats {
	return Stats{Rejected: n.stats.rejected.Load(), DroppedEvents: n.stats.droppedEvents.Load(), Expired: n.stats.expired.Load(), RoomEvents: n.stats.roomEvents.Load()}
}

// New makes the server of one node: server.New(reg, sopts) with hooks that
// make its clients reachable over NATS (composed with sopts.Hooks, which
// still run), and joins the cluster over NATS as opts says (an embedded
// NATS server when opts.URL is empty). Serve the returned node's Server as
// any server.Server; Close leaves the cluster. It fails with
// ErrClusterUnavailable when NATS cannot be reached before ctx ends (or
// within 10 s when ctx has no deadline), and
// with ErrNameInUse when a live node has opts.Name or another node started
// with it at the same moment keeps it (New waits about a tenth of a
// second for the answers of such nodes).
//
// Client ids are the connections' ids (Conn.ID): give sopts an Identify
// so that clients have ids others can call them by.
func New(ctx context.Context, reg *wsrpc.Registry, sopts *server.Options, opts *Options) (*Node, error) {
	o, err := opts.resolved()
	if err != nil {
		return nil, err
	}
	n := &Node{opts: o, name: o.Name, inst: nuid.Next(), log: o.Logger.With("node", o.Name)}
	n.subj = newSubjects(o.Subject, n.inst)
	n.auth = newAuth(n.name, n.inst, o.secrets())
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.inbox = make(chan *natsio.Msg, o.MaxPending)
	n.local.init()
	n.peers.init()
	n.calls.init(o.MaxInFlight)
	n.served.init()
	n.workers.jobs = make(chan job)

	var so server.Options
	if sopts != nil {
		so = *sopts
	}
	so.Hooks = n.hooks(so.Hooks)
	n.srv = server.New(reg, &so)

	if err := n.join(ctx); err != nil {
		n.cancel()
		n.shutdownNATS()
		return nil, err
	}
	n.tasks.Go(n.dispatch)
	n.tasks.Go(n.tick)
	n.log.Info("wsrpc cluster node joined", "nats", n.nc.ConnectedUrlRedacted(), "inst", n.inst)
	return n, nil
}

// joinTimeout bounds New when its context has no deadline.
const joinTimeout = 10 * time.Second

// join connects to NATS, claims the name (name.go), subscribes and says
// hello.
func (n *Node) join(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, joinTimeout)
		defer cancel()
	}
	if err := n.connect(ctx); err != nil {
		return err
	}
	reply, err := n.nc.Subscribe(n.subj.replies+".*", n.onReply)
	if err != nil {
		return fmt.Errorf("wsrpc cluster: subscribe on NATS: %w", err)
	}
	if err := n.limit(reply); err != nil {
		return err
	}
	if err := n.claimName(ctx); err != nil {
		return err
	}
	for _, s := range []struct {
		subject string
		handle  natsio.MsgHandler
	}{{n.subj.nodes, n.onNodes}, {n.subj.emit, n.onEmit}} {
		sub, err := n.nc.Subscribe(s.subject, s.handle)
		if err == nil {
			err = n.limit(sub)
		}
		if err != nil {
			return fmt.Errorf("wsrpc cluster: subscribe on NATS: %w", err)
		}
	}
	for _, s := range []string{n.subj.held, n.subj.node(n.name, "*")} {
		if _, err := n.nc.ChanSubscribe(s, n.inbox); err != nil {
			return fmt.Errorf("wsrpc cluster: subscribe on NATS: %w", err)
		}
	}
	n.heartbeat()
	if err := n.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("%w: join: %w", ErrClusterUnavailable, err)
	}
	return nil
}

func (n *Node) limit(sub *natsio.Subscription) error {
	if err := sub.SetPendingLimits(n.opts.MaxPending, 64<<20); err != nil {
		return fmt.Errorf("wsrpc cluster: subscribe on NATS: %w", err)
	}
	return nil
}

// hooks returns user's hooks (nil for none) with OnConnect and OnClose
// wrapped to keep the local table; user's run after the table is told.
func (n *Node) hooks(user *wsrpc.Hooks) *wsrpc.Hooks {
	return wsrpc.ChainHooks(&wsrpc.Hooks{
		OnConnect: func(ctx context.Context, c *wsrpc.Conn) error {
			n.joined(c)
			return nil
		},
		OnClose: func(c *wsrpc.Conn, err error) {
			n.left(c)
			n.roomsOf.leave(c)
		},
	}, user)
}

// connect connects to opts.URL, or starts the embedded NATS server and
// connects to it. Publishing while reconnecting fails at once (no
// buffering): a call or event then says ErrClusterUnavailable instead of
// waiting or being lost after a success.
func (n *Node) connect(ctx context.Context) error {
	cred, err := n.opts.natsOptions()
	if err != nil {
		return err
	}
	nopts := append([]natsio.Option{
		natsio.Name("wsrpc-" + n.name),
		natsio.MaxReconnects(-1),
		natsio.ReconnectWait(250 * time.Millisecond),
		natsio.ReconnectBufSize(-1),
		natsio.PingInterval(n.opts.UnavailableTimeout),
		natsio.MaxPingsOutstanding(2),
		natsio.DisconnectErrHandler(func(_ *natsio.Conn, err error) {
			n.log.Warn("wsrpc cluster: NATS connection lost; reconnecting", "err", err)
			n.calls.failAll(fmt.Errorf("%w: the NATS connection was lost during the request", ErrClusterUnavailable), false)
		}),
		natsio.ReconnectHandler(func(*natsio.Conn) {
			n.log.Info("wsrpc cluster: NATS connection back")
			n.noteReconnect(time.Now())
			n.heartbeat()
			n.tasks.Go(n.reclaimAll)
		}),
	}, cred...)
	url := n.opts.URL
	if url == "" {
		s, err := startEmbedded(n.opts.EmbeddedListen, n.opts.EmbeddedStoreDir)
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
			return fmt.Errorf("%w: connect to NATS at %q: %w (is nats-server running there, with these credentials? leave URL empty for an embedded one)", ErrClusterUnavailable, url, r.err)
		}
		n.nc = r.nc
		return nil
	case <-ctx.Done():
		go func() {
			if r := <-done; r.nc != nil {
				r.nc.Close()
			}
		}()
		return fmt.Errorf("%w: connect to NATS at %q: %w", ErrClusterUnavailable, url, ctx.Err())
	}
}

// startEmbedded starts a NATS server in the process, listening on listen
// ("host:port"), or on nothing when listen is empty; with JetStream
// stored in storeDir unless it is empty.
func startEmbedded(listen, storeDir string) (*natsserver.Server, error) {
	so := &natsserver.Options{NoLog: true, NoSigs: true, DontListen: listen == ""}
	if storeDir != "" {
		so.JetStream, so.StoreDir = true, storeDir
	}
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

// Name returns the node's name in the cluster.
func (n *Node) Name() string { return n.name }

// Server returns the node's server: mount it (it is an http.Handler) or
// Serve it as any server.Server.
func (n *Node) Server() *server.Server { return n.srv }

// NATS returns the node's NATS connection.
func (n *Node) NATS() *natsio.Conn { return n.nc }

// Close leaves the cluster: the other nodes are told at once (their calls
// waiting on this node fail with ErrNodeDown), the server is closed, and
// the embedded NATS server, if any, stops.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.announce(kindBye)
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
	n.calls.failAll(ErrClosed, true)
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

// tick publishes heartbeats, acknowledges slow served calls and expires
// silent nodes until Close.
func (n *Node) tick() {
	t := time.NewTicker(n.opts.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case now := <-t.C:
			if !n.nc.IsConnected() {
				continue // nothing heard, nothing said: not a sign of the others
			}
			n.noteReconnect(now)
			n.heartbeat()
			n.ackSlow()
			n.auth.forget(now)
			for _, name := range n.peers.expire(now.Add(-n.opts.HeartbeatExpiry)) {
				n.log.Warn("wsrpc cluster: node down: no heartbeat", "down", name, "expiry", n.opts.HeartbeatExpiry)
				n.nodeDown(name, fmt.Errorf("%w: node %s sent no heartbeat for %v", ErrNodeDown, name, n.opts.HeartbeatExpiry))
			}
		}
	}
}

// settling reports whether NATS came back less than UnavailableTimeout
// ago and some node has not answered since: its clients' subscriptions
// may not be back yet, so "no responders" does not mean "no client", and
// an event may miss its clients.
func (n *Node) settling() bool {
	n.noteReconnect(time.Now())
	at := n.reconnected.Load()
	return at != 0 && !n.settled.Load() && time.Since(time.Unix(0, at)) < n.opts.UnavailableTimeout
}

// unsure reports whether NATS's "no responders" may not mean "no client":
// NATS came back moments ago (settling), or the connection fails a round
// trip (NATS is going down: it drops the subscriptions of the connections
// it closes before ours). A request sent while settling is unsure too,
// even if its answer comes after the nodes settled: the answer may be
// from before (Call and Lookup look at settling when they send: see noClient).
func (n *Node) unsure() bool {
	return n.settling() || n.nc.FlushTimeout(n.opts.UnavailableTimeout) != nil
}

// noteReconnect notices that NATS came back (from its count of
// reconnections, before its asynchronous handler says so): every node
// then gets an expiry to say it is alive, and requests settle until every
// node known answered a ping sent since (an answer, unlike a heartbeat
// that may have waited in a queue, shows that the node's subscriptions
// are back), or for UnavailableTimeout.
func (n *Node) noteReconnect(now time.Time) {
	r := n.nc.Stats().Reconnects
	n.reconnMu.Lock()
	defer n.reconnMu.Unlock()
	if r == n.reconnects {
		return
	}
	n.reconnects = r
	n.peers.touchAll(now)
	n.settled.Store(false)
	n.reconnected.Store(now.UnixNano())
	n.tasks.Go(func() { n.settle(r) })
}

// settle pings every node known until each answered, then marks the
// reconnection r settled.
func (n *Node) settle(r uint64) {
	ctx, cancel := context.WithTimeout(n.ctx, n.opts.UnavailableTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, node := range n.peers.names() {
		wg.Go(func() {
			for ctx.Err() == nil {
				if n.ping(ctx, node) == nil {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	n.reconnMu.Lock()
	defer n.reconnMu.Unlock()
	if ctx.Err() == nil && n.reconnects == r {
		n.settled.Store(true)
	}
}

// ping asks node whether it is alive: nil when it answered.
func (n *Node) ping(ctx context.Context, node string) error {
	x, err := n.send(n.subj.node(node, kindPing), node, "", &request{Kind: kindPing})
	if err != nil {
		return err
	}
	defer x.close()
	_, err = x.next(ctx)
	return err
}

// errSettling is the error of a request that cannot tell yet.
func (n *Node) errSettling() error {
	return fmt.Errorf("%w: NATS came back moments ago and not every node is back yet", ErrClusterUnavailable)
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
