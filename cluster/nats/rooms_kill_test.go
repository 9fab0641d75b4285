package nats

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
	"github.com/wsrpc/wsrpc-go/internal/testkit"
	"github.com/wsrpc/wsrpc-go/internal/testserver"
	"github.com/wsrpc/wsrpc-go/rooms"
)

// killEvents is how many events TestRoomResumeAfterKill streams.
const killEvents = 10000

// killOpts keeps the history of every room, long enough for the stream;
// a resume reads it in small chunks (many reads of JetStream, and live
// events overflowing what a catching-up member keeps).
var killOpts = &rooms.Options{
	History:          func(string) *rooms.History { return &rooms.History{MaxEvents: killEvents} },
	ReplayChunkBytes: 2 << 10,
}

// Environment of the node process of TestRoomResumeAfterKill.
const (
	envRoomNodeNATS = "WSRPC_ROOM_NODE_NATS"
	envRoomNodeName = "WSRPC_ROOM_NODE_NAME"
)

// roomNodeProcess starts this test binary as a process holding node name
// (rooms with killOpts, the rooms routes open) on the NATS at natsURL,
// served by the engine of the running subtest; it returns the node's
// WebSocket URL and kills the process (SIGKILL) when the test ends.
func roomNodeProcess(t *testing.T, natsURL, name string) (url string, cmd *exec.Cmd) {
	t.Helper()
	env := []string{envRoomNodeNATS + "=" + natsURL, envRoomNodeName + "=" + name}
	if e := testserver.Current(); e != "" {
		env = append(env, testserver.EnvEngine+"="+e)
	}
	p := startTestProcess(t, "TestRoomNodeProcess", env...)
	url, ok := strings.CutPrefix(p.next(t, "the node "+name, testBound), "READY ")
	require.True(t, ok, "node process %s: no URL", name)
	return url, p.cmd
}

// TestRoomNodeProcess is the node process of TestRoomResumeAfterKill; it
// does nothing in a normal test run.
func TestRoomNodeProcess(t *testing.T) {
	natsURL := os.Getenv(envRoomNodeNATS)
	if natsURL == "" {
		t.Skip("the node process of TestRoomResumeAfterKill")
	}
	testserver.ForEachEngine(t, func(t *testing.T) { // the one engine the parent named
		n := startRoomNode(t, natsURL, killOpts, os.Getenv(envRoomNodeName))
		fmt.Println("READY " + n.url)
		_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes it, or kills us
	})
}

// startRoomNode starts node name with its rooms made with opts and
// the rooms routes open to everyone, without waiting for other nodes.
func startRoomNode(t testing.TB, natsURL string, opts *rooms.Options, name string) *testNode {
	t.Helper()
	n := startNode(t, natsURL, name, nil)
	r, err := n.Rooms(opts)
	require.NoError(t, err)
	require.NoError(t, r.Routes(n.Server().Registry(), func(context.Context, *wsrpc.Conn, string) error { return nil }))
	return n
}

// TestRoomResumeAfterKill: three nodes and NATS with JetStream; the node
// a client uses is a process of its own, killed with SIGKILL in the
// middle of a stream of 10,000 events of a room with history. The client
// (Reconnect and a Tracker, through a proxy that then sends new
// connections to another node, as a load balancer does) reconnects to
// another node, resumes there from JetStream, and hands the application
// all 10,000 exactly once, in order, without a loss.
func TestRoomResumeAfterKill(t *testing.T) { testserver.ForEachEngine(t, testRoomResumeAfterKill) }

func testRoomResumeAfterKill(t *testing.T) {
	natsURL := startNATSWith(t, true) // outlives the node killed
	nodes := startRoomNodesOn(t, natsURL, killOpts, "b", "c")
	b, c := nodes[0], nodes[1]
	aURL, a := roomNodeProcess(t, natsURL, "a")
	eventually(t, func() bool { return len(b.Nodes()) == 3 && len(c.Nodes()) == 3 }, "b and c know a")

	proxy, url := testkit.NewCutProxy(t, aURL)
	s := testkit.NewSeen()
	tr := rooms.NewTracker(s.Options())
	opts := &client.Options{Reconnect: true, ReconnectMinWait: 5 * time.Millisecond, ReconnectMaxWait: 50 * time.Millisecond}
	tr.Install(&opts.Options)
	ctx, cancel := context.WithTimeout(context.Background(), 4*testBound)
	defer cancel()
	cl, err := client.Dial(ctx, url, nil, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cl.Close() })
	_, err = tr.Join(ctx, cl, "stream")
	require.NoError(t, err)

	r := c.roomsOf.b.Load().rooms // the emitter lives on c, which stays up
	emitted := make(chan error, 1)
	go func() {
		for i := 1; i <= killEvents; i++ {
			if _, err := r.EmitEncoded(ctx, "stream", fmt.Appendf(nil, `{"n":%d}`, i)); err != nil {
				emitted <- err
				return
			}
		}
		emitted <- nil
	}()
	s.WaitFor(t, "2,000 events from a", testBound, func(ns []int, _ []rooms.Position) bool { return len(ns) >= 2000 })
	proxy.Retarget(b.url)                // the load balancer's next choice
	require.NoError(t, a.Process.Kill()) // SIGKILL: no goodbye, no flush
	killedAt := s.Count()
	_ = a.Wait()
	t.Logf("a killed after the client had %d events", killedAt)
	// The emitter waits for JetStream's ack of each event: on a busy
	// machine the rest of the 10,000 take longer than one WaitTimeout,
	// so the events are awaited first, within the test's whole bound.
	s.WaitFor(t, "all 10,000 events", 4*testBound, func(ns []int, _ []rooms.Position) bool { return len(ns) >= killEvents })
	require.NoError(t, testserver.Recv(t, emitted, "the emitter"))
	time.Sleep(100 * time.Millisecond) // a duplicate would come now
	s.RequireOnceInOrder(t, killEvents, fmt.Sprintf("a killed after %d events", killedAt))
	require.Less(t, killedAt, killEvents, "a was killed after the stream ended")
	require.Positive(t, b.roomsOf.b.Load().rooms.Count("stream"), "the client is in the room on b")
}
