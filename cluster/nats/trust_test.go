package nats

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	natsio "github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/wsrpc/wsrpc-go/internal/testserver"
)

// A NATS publisher without the cluster secret (a plain nats.go client
// that may publish and subscribe anywhere) cannot run a client's route,
// reroute an id, complete someone's call, replay a node's message, fake a
// node, or reach clients with a frame; a node that signs a frame that is
// not an event has it dropped and counted before any client sees it.
func TestRoguePublisher(t *testing.T) { testserver.ForEachEngine(t, testRoguePublisher) }

func testRoguePublisher(t *testing.T) {
	a, b, natsURL := twoNodes(t)
	hold := make(chan struct{})
	alice := dial(t, b, "alice", hold)
	bob := dial(t, a, "bob", nil)
	sees(t, []*testNode{a, b}, map[string]string{"alice": "b", "bob": "a"})
	rogue, err := natsio.Connect(natsURL)
	require.NoError(t, err)
	defer rogue.Close()
	seen, err := rogue.SubscribeSync("wsrpc.>") // it can watch everything
	require.NoError(t, err)
	require.NoError(t, rogue.Flush())
	aliceSubject := a.subj.client("alice")
	const quiet = 300 * time.Millisecond // what a node would answer within
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()

	// Run alice's route: unsigned, or signed with another secret.
	call := []byte(`{"k":"call","to":"alice","method":"echo","params":"rogue","timeout_ms":5000}`)
	_, err = rogue.Request(aliceSubject, call, quiet)
	require.ErrorIs(t, err, natsio.ErrTimeout, "no node answers an unsigned call")
	wrong := newAuth("a", "forged", []string{"another-secret-0123456789"})
	m := &natsio.Msg{Subject: aliceSubject, Reply: rogue.NewInbox(), Data: call}
	wrong.sign(m, 1, time.Now())
	_, err = rogue.RequestMsg(m, quiet)
	require.ErrorIs(t, err, natsio.ErrTimeout, "no node answers a call signed with another secret")
	require.Zero(t, alice.handled.Load(), "alice's route never ran")

	// Reroute alice: a claim that would beat any other.
	require.NoError(t, rogue.Publish(aliceSubject, []byte(`{"k":"claim","to":"alice","claim":{"g":18446744073709551615,"node":"zz","inst":"zz","serial":1}}`)))
	// Fake a node, and say goodbye for b.
	require.NoError(t, rogue.Publish("wsrpc.nodes", []byte(`{"k":"hb","node":"ghost","inst":"x"}`)))
	require.NoError(t, rogue.Publish("wsrpc.nodes", []byte(`{"k":"bye","node":"b","inst":"`+b.inst+`"}`)))
	// Frames to clients: a spoofed result, a call, invalid UTF-8, an event.
	frames := []string{`{"id":1,"result":"SPOOFED"}`, `{"id":2,"method":"echo","params":"x"}`, "{\"x\":\"\xff\"}", `{"rogue":1}`}
	for _, f := range frames {
		require.NoError(t, rogue.Publish("wsrpc.emit", []byte(f)))
	}

	// Complete bob's call to alice with a result of its own: it sees the
	// request and its reply subject, and answers first.
	held := callAsync(ctx, a.Node, "alice", "hold")
	var req *natsio.Msg
	for req == nil {
		msg, err := seen.NextMsg(testBound)
		require.NoError(t, err)
		if msg.Subject == aliceSubject && json.Valid(msg.Data) && string(msg.Data[:12]) == `{"k":"call",` {
			req = msg
		}
	}
	require.NoError(t, rogue.Publish(req.Reply, []byte(`{"result":false}`)))
	spoof := &natsio.Msg{Subject: req.Reply, Data: []byte(`{"result":false}`), Header: req.Header}
	require.NoError(t, rogue.PublishMsg(spoof)) // with a node's header from another message
	require.NoError(t, rogue.Flush())
	time.Sleep(quiet)
	select {
	case r := <-held:
		t.Fatalf("the held call ended before alice answered: %v", r.err)
	default:
	}
	hold <- struct{}{}
	r := testserver.Recv(t, held, "the held call")
	require.NoError(t, r.err, "alice's own answer (true) completes the call")

	// Replay a node's call captured on the wire: as it was, and to
	// another reply subject.
	require.NoError(t, a.Call(ctx, "alice", "echo", "once", nil))
	require.Equal(t, int64(1), alice.handled.Load())
	req = nil
	for req == nil {
		msg, err := seen.NextMsg(testBound)
		require.NoError(t, err)
		if msg.Subject == aliceSubject && strings.Contains(string(msg.Data), `"once"`) {
			req = msg
		}
	}
	require.NoError(t, rogue.PublishMsg(&natsio.Msg{Subject: req.Subject, Reply: req.Reply, Data: req.Data, Header: req.Header}))
	require.NoError(t, rogue.PublishMsg(&natsio.Msg{Subject: req.Subject, Reply: rogue.NewInbox(), Data: req.Data, Header: req.Header}))
	require.NoError(t, rogue.Flush())

	time.Sleep(quiet)
	for _, c := range []*peerClient{alice, bob} {
		require.Empty(t, c.received(), "no frame reached %s", c.id)
		select {
		case <-c.Done():
			t.Fatalf("%s was closed", c.id)
		default:
		}
	}
	at, err := a.Lookup(ctx, "alice")
	require.NoError(t, err)
	require.Equal(t, "b", at, "alice was not rerouted")
	require.Equal(t, []string{"a", "b"}, a.Nodes(), "no ghost, and b is still up")
	require.Equal(t, int64(1), alice.handled.Load(), "the replayed call did not run")
	require.Positive(t, a.Stats().Rejected)
	require.Positive(t, b.Stats().Rejected)

	// A node (with the secret) that emits frames that are not events:
	// dropped and counted by every other node; a real event passes.
	buggy := newAuth("buggy", "buggyinst", []string{testSecret})
	for i, f := range append(frames[:3], `{"ok":1}`) {
		m := &natsio.Msg{Subject: "wsrpc.emit", Data: []byte(f)}
		buggy.sign(m, uint64(i+1), time.Now())
		require.NoError(t, rogue.PublishMsg(m))
	}
	eventually(t, func() bool { return len(alice.received()) == 1 && len(bob.received()) == 1 }, "the real event")
	require.Equal(t, []string{`{"ok":1}`}, alice.received())
	require.Equal(t, int64(3), a.Stats().DroppedEvents)
	require.Equal(t, int64(3), b.Stats().DroppedEvents)
	require.False(t, slices.Contains(b.Nodes(), "buggy"))
}
