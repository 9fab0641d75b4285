package nats

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/internal/race"
	"github.com/wsrpc/wsrpc-go/rooms"
	"github.com/wsrpc/wsrpc-go/server"
)

// Environment of the members process of TestRoomTenThousandMembers.
const (
	envMembersURLs   = "WSRPC_ROOM_MEMBERS_URLS"
	envMembersCount  = "WSRPC_ROOM_MEMBERS_COUNT"
	envMembersEvents = "WSRPC_ROOM_MEMBERS_EVENTS"
)

// TestRoomTenThousandMembers: a room of 10,000 members spread over three
// nodes; events emitted from each node, to the room without history and
// to one with history in JetStream, reach every member exactly once
// each. The members are bare WebSocket connections in a process of their
// own (10,000 connections have 20,000 ends: more descriptors than one
// process may hold here); the nodes join them from server code. Under
// the race detector the room has 2,000 members: it allows 8,128
// goroutines at once, and each connection has its own.
func TestRoomTenThousandMembers(t *testing.T) {
	members := 10000
	if race.Enabled {
		members = 2000
	}
	natsURL := startNATSWith(t, true)
	var nodes []*testNode
	var urls []string
	for _, name := range []string{"a", "b", "c"} {
		n := startMembersNode(t, natsURL, name)
		nodes, urls = append(nodes, n), append(urls, n.url)
	}
	eventually(t, func() bool { return len(nodes[0].Nodes()) == 3 }, "the nodes know each other")
	const perRoom = 3 // one from each node
	check := membersProcess(t, urls, members, 2*perRoom)

	eventually(t, func() bool { // the upgrade is answered before a node counts the connection
		up := 0
		for _, n := range nodes {
			up += len(n.Server().Clients())
		}
		return up == members
	}, "the nodes have every member's connection")
	ctx, cancel := context.WithTimeout(context.Background(), 3*testBound)
	defer cancel()
	joined := 0
	for _, n := range nodes {
		r := n.roomsOf.b.Load().rooms
		for _, c := range n.Server().Clients() {
			for _, room := range []string{"lobby", "h:lobby"} {
				_, err := r.Join(ctx, c, room)
				require.NoError(t, err)
			}
			joined++
		}
	}
	require.Equal(t, members, joined)
	settled(t, nodes)
	for i, n := range nodes {
		r := n.roomsOf.b.Load().rooms
		_, err := r.EmitEncoded(ctx, "lobby", fmt.Appendf(nil, `{"k":%d}`, i))
		require.NoError(t, err)
		_, err = r.EmitEncoded(ctx, "h:lobby", fmt.Appendf(nil, `{"k":%d}`, perRoom+i))
		require.NoError(t, err)
	}
	exact, frames := check()
	require.Equal(t, members, exact, "members that got each event exactly once")
	require.Equal(t, members*2*perRoom, frames, "frames received: one per event per member")
	for _, n := range nodes {
		require.Zero(t, n.Stats().Rejected+n.Stats().DroppedEvents, n.Name())
	}
}

// startMembersNode starts node name with rooms (historyOpts) and a
// server without keepalive (the members do not answer pings) on the
// default engine.
func startMembersNode(t *testing.T, natsURL, name string) *testNode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	so := &server.Options{Identify: identify, Options: wsrpc.Options{KeepaliveInterval: -1}}
	n, err := New(ctx, nil, so, &Options{Name: name, URL: natsURL, HeartbeatInterval: testInterval, HeartbeatExpiry: testExpiry, Secret: testSecret})
	require.NoError(t, err)
	t.Cleanup(func() { _ = n.Close() })
	_, err = n.Rooms(historyOpts)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = n.Server().Serve(ln) }()
	t.Cleanup(func() { _ = ln.Close() })
	return &testNode{Node: n, url: "ws://" + ln.Addr().String() + "/ws/"}
}

// membersProcess starts this test binary as a process with count bare
// WebSocket connections spread over urls, and returns once they are all
// up. check waits (bounded) until they received events frames each, then
// a little for duplicates, and returns how many members got the event
// keys 0 to events-1 exactly once each, and the frames of all.
func membersProcess(t *testing.T, urls []string, count, events int) (check func() (exact, frames int)) {
	t.Helper()
	p := startTestProcess(t, "TestRoomMembersProcess", envMembersURLs+"="+strings.Join(urls, ","),
		envMembersCount+"="+strconv.Itoa(count), envMembersEvents+"="+strconv.Itoa(events))
	require.Equal(t, "READY", p.next(t, "its connections", 3*testBound))
	return func() (int, int) {
		_, _ = io.WriteString(p.stdin, "CHECK\n")
		var exact, frames int
		_, err := fmt.Sscanf(p.next(t, "its result", 4*testBound), "DONE %d %d", &exact, &frames)
		require.NoError(t, err)
		return exact, frames
	}
}

// TestRoomMembersProcess is the members process of
// TestRoomTenThousandMembers; it does nothing in a normal test run.
func TestRoomMembersProcess(t *testing.T) {
	urls := strings.Split(os.Getenv(envMembersURLs), ",")
	if urls[0] == "" {
		t.Skip("the members process of TestRoomTenThousandMembers")
	}
	count, _ := strconv.Atoi(os.Getenv(envMembersCount))
	events, _ := strconv.Atoi(os.Getenv(envMembersEvents))
	ms := make([]*member, count)
	var frames atomic.Int64
	var wg sync.WaitGroup
	next := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range next {
				ms[i] = dialMember(t, urls[i%len(urls)]+"?id=m-"+strconv.Itoa(i), events, &frames)
			}
		})
	}
	for i := range count {
		next <- i
	}
	close(next)
	wg.Wait()
	if t.Failed() {
		return
	}
	fmt.Println("READY")
	in := bufio.NewScanner(os.Stdin)
	if !in.Scan() {
		return
	}
	for deadline := time.Now().Add(3 * testBound); frames.Load() < int64(count*events) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // a duplicate would come now
	exact := 0
	for _, m := range ms {
		if m.exact() {
			exact++
		}
		_ = m.nc.Close()
	}
	fmt.Printf("DONE %d %d\n", exact, frames.Load())
}

// member is a bare connection of the members process: it counts the
// events it receives by their key.
type member struct {
	nc  net.Conn
	got []atomic.Int32 // events received of each key
	bad atomic.Int32   // frames that are not {"_room":…,"k":key} or {"k":key}
}

// dialMember connects to url and counts what it receives until closed.
func dialMember(t *testing.T, url string, events int, frames *atomic.Int64) *member {
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	nc, br, _, err := ws.Dial(ctx, url)
	if err != nil {
		t.Error(err)
		return nil
	}
	m := &member{nc: nc, got: make([]atomic.Int32, events)}
	rw := struct {
		io.Reader
		io.Writer
	}{nc, nc}
	if br != nil {
		rw.Reader = io.MultiReader(br, nc)
	}
	go func() {
		for {
			msg, err := wsutil.ReadServerText(rw)
			if err != nil {
				return
			}
			frames.Add(1)
			if k, ok := eventKey(msg, events); ok {
				m.got[k].Add(1)
			} else {
				m.bad.Add(1)
			}
		}
	}()
	return m
}

// eventKey returns the key of an event the members receive: {"k":key}
// from the room without history (keys under events/2), the same with a
// "_room" member in front from the room with history (the others).
func eventKey(msg []byte, events int) (int, bool) {
	i := bytes.Index(msg, []byte(`"k":`))
	if i < 0 {
		return 0, false
	}
	k, err := strconv.Atoi(string(bytes.TrimSuffix(msg[i+4:], []byte("}"))))
	if err != nil || k < 0 || k >= events {
		return 0, false
	}
	_, stored := rooms.ReadMember(msg)
	return k, stored == (k >= events/2)
}

// exact reports whether m got every key exactly once and nothing else.
func (m *member) exact() bool {
	if m == nil || m.bad.Load() != 0 {
		return false
	}
	for i := range m.got {
		if m.got[i].Load() != 1 {
			return false
		}
	}
	return true
}
