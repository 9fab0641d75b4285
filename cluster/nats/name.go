package nats

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	natsio "github.com/nats-io/nats.go"
)

// A node's name is its own from the moment New returns, even when two
// nodes are started with one name at the same instant. Each node, for
// its whole life, subscribes to P.name.<name> and answers the claims
// published there; New first subscribes, then claims the name (kindName,
// signed, with its inst) and listens for answers for a settle window:
//
//   - a running node of the name answers "running": the claimant loses;
//   - a node still settling answers "starting" with its inst: of the two,
//     the lower inst keeps the name, and each side decides alike (the one
//     that hears the claim and the one that hears the answer compare the
//     same pair), so no clocks are compared.
//
// Both subscribe before they claim, so of two simultaneous claimants at
// least one hears the other's claim and answers it. A settle window of
// nameSettle plus a few NATS round trips covers the answer's travel.

// nameSettle is the least a claim of a name waits for answers.
const nameSettle = 100 * time.Millisecond

// States a node answers a claim of its name with (reply.Message).
const (
	nameRunning  = "running"
	nameStarting = "starting"
)

// nameClaim is this node's hold on its name.
type nameClaim struct {
	mu      sync.Mutex // protects the following
	running bool       // the window passed and the name is ours
	lostTo  string     // the inst of a node that keeps the name, if any
}

// claimName claims the node's name, or fails with ErrNameInUse when a
// running node has it or a node starting at the same time keeps it.
func (n *Node) claimName(ctx context.Context) error {
	subject := n.subj.name(n.name)
	sub, err := n.nc.Subscribe(subject, n.onNameClaim)
	if err == nil {
		err = n.limit(sub)
	}
	if err != nil {
		return fmt.Errorf("wsrpc cluster: subscribe on NATS: %w", err)
	}
	rtt, err := n.nc.RTT()
	if err != nil {
		return fmt.Errorf("%w: join: %w", ErrClusterUnavailable, err)
	}
	x, err := n.send(subject, "", "", &request{Kind: kindName, Node: n.name, Inst: n.inst})
	if err != nil {
		return err
	}
	defer x.close()
	wctx, cancel := context.WithTimeout(ctx, nameSettle+8*rtt)
	defer cancel()
	for {
		r, err := x.next(wctx)
		switch {
		case err == nil && r.Node == n.name && r.Inst != n.inst:
			if r.Message == nameRunning || (r.Message == nameStarting && r.Inst < n.inst) {
				return n.errNameInUse(r.Message)
			}
			continue // it loses to this node, as it decides too
		case err == nil || errors.Is(err, errNoResponders):
			continue
		case ctx.Err() != nil:
			return fmt.Errorf("%w: join: %w", ErrClusterUnavailable, ctx.Err())
		case wctx.Err() == nil:
			return err
		}
		n.hold.mu.Lock()
		defer n.hold.mu.Unlock()
		if n.hold.lostTo != "" {
			return n.errNameInUse(nameStarting)
		}
		n.hold.running = true
		return nil
	}
}

func (n *Node) errNameInUse(state string) error {
	if state == nameRunning {
		return fmt.Errorf("%w: node %q is live on NATS; give each node its own Options.Name, or stop the other first", ErrNameInUse, n.name)
	}
	return fmt.Errorf("%w: another node %q started at the same moment and keeps the name; give each node its own Options.Name", ErrNameInUse, n.name)
}

// onNameClaim answers another node's claim of this node's name.
func (n *Node) onNameClaim(msg *natsio.Msg) {
	from, err := n.auth.verify(msg, "name", time.Now())
	if err != nil {
		n.reject(msg, err)
		return
	}
	var req request
	if err := decode(msg.Data, &req, "name claim"); err != nil || req.Kind != kindName || req.Node != n.name || from.node != n.name || req.Inst != from.inst {
		n.reject(msg, fmt.Errorf("wsrpc cluster: a name claim that does not name its sender: %v", err))
		return
	}
	if from.inst == n.inst {
		return // this node's own claim
	}
	n.hold.mu.Lock()
	state := nameRunning
	if !n.hold.running {
		state = nameStarting
		if from.inst < n.inst && n.hold.lostTo == "" {
			n.hold.lostTo = from.inst
		}
	}
	n.hold.mu.Unlock()
	if state == nameRunning {
		n.log.Warn("wsrpc cluster: a node tried to start with this node's name; it was refused", "other_inst", from.inst)
	}
	n.respond(msg, reply{Node: n.name, Inst: n.inst, Message: state})
}
