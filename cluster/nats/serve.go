package nats

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	natsio "github.com/nats-io/nats.go"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

// The serving side: calls and broadcasts that other nodes send to this
// node's clients. Each runs on its own goroutine holding one of the
// MaxServing tokens; without a free token the request is answered with
// "overloaded" at once, so the subscription's queue does not build up.

// maxTimeout bounds the timeout another node may ask for.
const maxTimeout = 24 * time.Hour

// onCall serves a call from another node to one of this node's clients.
func (n *Node) onCall(msg *natsio.Msg) {
	if msg.Reply == "" {
		return
	}
	if !n.acquire() {
		n.respond(msg, reply{Fail: failOverloaded, Message: "too many calls from other nodes run (Options.MaxServing)"})
		return
	}
	n.serve(func() {
		var req callReq
		if err := decode(msg.Data, &req, "call"); err != nil || req.Method == "" {
			n.respond(msg, reply{Fail: failBadRequest, Message: "a call needs a JSON object with to and method"})
			return
		}
		c := n.local.get(req.To)
		if c == nil {
			n.respond(msg, reply{Fail: failNotFound, Message: "no such client on this node"})
			return
		}
		ctx, cancel := n.servingContext(req.TimeoutMS)
		defer cancel()
		var res json.RawMessage
		err := c.Call(ctx, req.Method, paramsOf(req.Params), &res)
		n.respond(msg, replyOf(res, err))
	})
}

// onBroadcast serves a broadcast from another node: the call on every
// client of this node, the results in one reply.
func (n *Node) onBroadcast(msg *natsio.Msg) {
	if msg.Reply == "" {
		return
	}
	if !n.acquire() {
		n.respondBroadcast(msg, broadcastReply{Fail: failOverloaded, Message: "too many calls from other nodes run (Options.MaxServing)"})
		return
	}
	n.serve(func() {
		var req broadcastReq
		if err := decode(msg.Data, &req, "broadcast"); err != nil || req.Method == "" {
			n.respondBroadcast(msg, broadcastReply{Fail: failBadRequest, Message: "a broadcast needs a JSON object with method"})
			return
		}
		ctx, cancel := n.servingContext(req.TimeoutMS)
		defer cancel()
		var out broadcastReply
		for _, r := range n.srv.Broadcast(ctx, req.Method, paramsOf(req.Params)) {
			out.Results = append(out.Results, clientReply{ID: r.Conn.ID(), reply: replyOf(r.Result, r.Err)})
		}
		n.respondBroadcast(msg, out)
	})
}

func (n *Node) acquire() bool {
	select {
	case n.serving <- struct{}{}:
		return true
	default:
		return false
	}
}

func (n *Node) release() { <-n.serving }

// serve runs a served request on a goroutine of the node's, holding the
// token acquire took; a closing node starts none and gives the token back.
func (n *Node) serve(f func()) {
	if !n.tasks.Go(func() { defer n.release(); f() }) {
		n.release()
	}
}

// servingContext bounds a served call by the caller's timeout, capped, and
// by the node's life.
func (n *Node) servingContext(ms int64) (context.Context, context.CancelFunc) {
	d := n.opts.CallTimeout
	if ms > 0 && ms < maxTimeout.Milliseconds() {
		d = time.Duration(ms) * time.Millisecond
	}
	return context.WithTimeout(n.ctx, d)
}

// paramsOf passes raw params on untouched (nil when absent).
func paramsOf(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	return raw
}

// replyOf is the reply that stands for a client's result or error.
func replyOf(res json.RawMessage, err error) reply {
	var we *wsrpc.Error
	switch {
	case err == nil:
		if len(res) == 0 {
			res = json.RawMessage("null")
		}
		return reply{Result: res}
	case errors.As(err, &we):
		return reply{Error: &wireError{Type: we.Type, Message: we.Message, Raw: we.Raw}}
	case errors.Is(err, wsrpc.ErrClosed):
		return reply{Fail: failNotFound, Message: "the client disconnected during the call"}
	case errors.Is(err, context.DeadlineExceeded):
		return reply{Fail: failTimeout, Message: err.Error()}
	}
	return reply{Fail: failOther, Message: err.Error()}
}

func (n *Node) respond(msg *natsio.Msg, r reply) {
	b, _ := json.Marshal(r)
	n.send(msg, b)
}

func (n *Node) respondBroadcast(msg *natsio.Msg, r broadcastReply) {
	b, _ := json.Marshal(r)
	if int64(len(b)) > n.nc.MaxPayload() {
		b, _ = json.Marshal(broadcastReply{Fail: failTooLarge, Message: "the results of this node's clients exceed NATS's max_payload; use Emit, or calls to each client"})
	}
	n.send(msg, b)
}

func (n *Node) send(msg *natsio.Msg, b []byte) {
	if err := n.nc.Publish(msg.Reply, b); err != nil {
		n.log.Warn("wsrpc cluster: reply not sent", "err", err)
	}
}
