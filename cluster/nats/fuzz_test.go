package nats

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	natsio "github.com/nats-io/nats.go"
)

// FuzzPresence feeds presence messages from the network, one per line, to a
// view, with a snapshot install after each, and checks that it never
// panics and stays consistent: every client the view places on a node is
// one of that live node's clients.
func FuzzPresence(f *testing.F) {
	f.Add([]byte(`{"t":"hb","node":"a","inst":"1","seq":0}
{"t":"join","node":"a","inst":"1","seq":1,"id":"x","at":5}
{"t":"join","node":"b","inst":"2","seq":1,"id":"x","at":7}
{"t":"leave","node":"a","inst":"1","seq":2,"id":"x"}
{"t":"bye","node":"b","inst":"2"}`))
	f.Add([]byte(`{"t":"join","node":"a","inst":"1","seq":9,"id":"y"}
{"t":"hb","node":"a","inst":"3","seq":18446744073709551615}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var v view
		v.init()
		now := time.Unix(0, 0)
		for line := range bytes.Lines(data) {
			var m presenceMsg
			if decode(line, &m, "presence") != nil || !validName(m.Node) || m.Inst == "" {
				continue
			}
			fetch, _ := v.apply(m, now)
			if fetch && len(line)%2 == 0 {
				v.install(m.Node, m.Inst, []member{{ID: m.ID, At: m.At}}, m.Seq/2, len(line)%3 != 0)
			}
			now = now.Add(time.Second)
		}
		for id, o := range v.owner {
			p := v.peers[o.node]
			if p == nil {
				t.Fatalf("client %q placed on node %q, which the view does not have", id, o.node)
			}
			if _, ok := p.clients[id]; !ok {
				t.Fatalf("client %q placed on node %q, which does not list it", id, o.node)
			}
		}
		for name, p := range v.peers {
			for id := range p.clients {
				if _, ok := v.owner[id]; !ok {
					t.Fatalf("node %q has client %q, which the view places nowhere", name, id)
				}
			}
		}
		v.expire(now)
		if len(v.owner) != 0 || len(v.peers) != 0 {
			t.Fatalf("after expiring every node the view still has %d clients, %d nodes", len(v.owner), len(v.peers))
		}
	})
}

// FuzzReply decodes what a serving node may send back: any bytes give an
// error or a result, never a panic.
func FuzzReply(f *testing.F) {
	f.Add([]byte(`{"result":1}`))
	f.Add([]byte(`{"error":{"type":"KeyError","message":"m"}}`))
	f.Add([]byte(`{"fail":"not_found","message":"m"}`))
	f.Add([]byte(`{"results":[{"id":"a","result":null},{"id":"b","fail":"timeout"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r reply
		if decode(data, &r, "call reply") == nil {
			if err := r.err("c", "n"); err == nil {
				var v any
				_ = json.Unmarshal(r.Result, &v)
			}
		}
		var b broadcastReply
		if decode(data, &b, "broadcast reply") == nil {
			for _, c := range b.Results {
				_ = c.err(c.ID, "n")
			}
		}
		_ = isObject(data)
		var n Node
		n.calls.init(1)
		n.onReply(&natsio.Msg{Subject: "p.reply.n.i." + string(data), Data: data})
	})
}
