package nats

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	natsio "github.com/nats-io/nats.go"
)

// FuzzRequest feeds requests from the network to a node's dispatcher, on
// each of its subjects: as they come (unsigned: always dropped and
// counted) and signed with the cluster secret, as a buggy node's would
// be. Malformed input never crashes a node.
func FuzzRequest(f *testing.F) {
	for _, s := range []string{
		`{"k":"call","to":"alice","method":"echo","params":[1],"timeout_ms":50}`,
		`{"k":"claim","to":"alice","claim":{"g":18446744073709551615,"node":"x","inst":"y","serial":1}}`,
		`{"k":"held","to":"alice","claim":{"g":3,"node":"x","inst":"y"}}`,
		`{"k":"cancel","to":"alice","reply":"wsrpc.reply.x.1"}`,
		`{"k":"where","to":"alice"}`,
		`{"k":"broadcast","method":"echo","deadline_ms":1}`,
		`{"k":"list"}`, `{"k":"count"}`, `{"k":"ping"}`, `{"k":"call","to":"alice"}`, `[]`, `{"k":`,
	} {
		for sub := range byte(8) {
			f.Add(sub, []byte(s))
		}
	}
	n := startRawNode(f, "fuzz", &Options{MaxServing: 4})
	dial(f, n, "alice", nil)
	other := newAuth("other", "otherinst", []string{testSecret})
	f.Fuzz(func(t *testing.T, which byte, data []byte) {
		var req request
		_ = json.Unmarshal(data, &req)
		subjects := []string{
			n.subj.client("alice"), n.subj.client(req.To), n.subj.held,
			n.subj.node("fuzz", kindBroadcast), n.subj.node("fuzz", kindList),
			n.subj.node("fuzz", kindCount), n.subj.node("fuzz", kindPing), n.subj.node("fuzz", req.Kind),
		}
		msg := &natsio.Msg{Subject: subjects[int(which)%len(subjects)], Reply: "fuzz.reply", Data: data}
		before := n.stats.rejected.Load()
		n.handle(msg)
		if n.stats.rejected.Load() != before+1 {
			t.Fatalf("an unsigned request was not dropped")
		}
		other.seq++
		other.sign(msg, other.seq, time.Now())
		n.handle(msg)
		// The same bytes as a claim of the node's name, unsigned then
		// signed by a node of another name: dropped either way.
		claim := &natsio.Msg{Subject: n.subj.name("fuzz"), Reply: "fuzz.reply", Data: data}
		before = n.stats.rejected.Load()
		n.onNameClaim(claim)
		other.seq++
		other.sign(claim, other.seq, time.Now())
		n.onNameClaim(claim)
		if n.stats.rejected.Load() != before+2 {
			t.Fatalf("a claim of the name not from a node of that name was not dropped")
		}
	})
}

// FuzzReply decodes what a serving node may send back and checks what
// any node may receive: any bytes give an error or a result, never a
// panic; an auth header that was not made with the secret never
// verifies; an id's subject token is always one NATS token.
func FuzzReply(f *testing.F) {
	f.Add([]byte(`{"result":1}`), "k n i 1 2 mac")
	f.Add([]byte(`{"error":{"type":"KeyError","message":"m"}}`), "")
	f.Add([]byte(`{"fail":"not_found","message":"m"}`), "0000 a b 3 4 x")
	f.Add([]byte(`{"results":[{"id":"a","result":null},{"id":"b","fail":"timeout"}],"parts":2}`), "a.b *>")
	f.Add([]byte("{\"id\":1,\"result\":\"\xff\"}"), "\x00")
	a := newAuth("n", "i", []string{testSecret})
	f.Fuzz(func(t *testing.T, data []byte, header string) {
		var r reply
		if decode(data, &r, "reply") == nil {
			if err := r.err("c", "n"); err == nil {
				var v any
				_ = json.Unmarshal(r.Result, &v)
			}
			for _, c := range r.Results {
				_ = c.err(c.ID, "n")
			}
		}
		_ = validEvent(data)
		msg := &natsio.Msg{Subject: "s", Data: data, Header: natsio.Header{headerAuth: []string{header}}}
		if _, err := a.verify(msg, "reply", time.Now()); err == nil {
			t.Fatalf("a header not made with the secret verified: %q", header)
		}
		tok := idToken(header)
		if tok == "" || strings.ContainsAny(tok, ".*> \t\r\n") {
			t.Fatalf("id %q gives the token %q", header, tok)
		}
		var st replayState
		seen := map[uint64]bool{}
		for i := 0; i+8 <= len(data); i += 8 {
			seq := uint64(data[i])<<8 | uint64(data[i+1])
			if st.record(seq) && seen[seq] {
				t.Fatalf("sequence %d accepted twice", seq)
			}
			seen[seq] = true
		}
	})
}
