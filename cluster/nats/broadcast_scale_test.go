package nats

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"

	"github.com/wsrpc/wsrpc-go/internal/testkit"
	"github.com/wsrpc/wsrpc-go/internal/testserver"
	"github.com/wsrpc/wsrpc-go/server"
)

// envBroadcastClients sets how many clients TestBroadcastAtScale spreads
// over its three nodes (default 3,000); make test sets 100000 for one run
// without the race detector (the Makefile's broadcast-scale target).
const envBroadcastClients = "WSRPC_BROADCAST_CLIENTS"

// A broadcast over three nodes returns one answer per client, each the
// client's own: every client is a real WebSocket client (a lean one:
// testkit.LeanPeers, no goroutine of its own) over TCP, or over in-memory
// connections when the process may not open two descriptors per client;
// the nodes stream their answers in parts through NATS. The clients answer
// in an order of their own, so a node that called its clients only after
// the others answered would never finish.
func TestBroadcastAtScale(t *testing.T) { testserver.ForEachEngine(t, testBroadcastAtScale) }

func testBroadcastAtScale(t *testing.T) {
	total := 3000
	if s := os.Getenv(envBroadcastClients); s != "" {
		var err error
		total, err = strconv.Atoi(s)
		require.NoError(t, err, envBroadcastClients)
	}
	// Two descriptors a connection (both ends live here), and room for the
	// rest of the test binary; else the same server code (handshake,
	// frames, calls) over in-memory connections, which every engine serves
	// as the goroutine engine.
	tcpErr := testkit.RaiseFileLimit(uint64(2*total + 4096))
	switch e := testserver.Current(); {
	case tcpErr != nil && e != server.EngineGoroutine:
		t.Skipf("%v: run over in-memory connections, under the goroutine engine only", tcpErr)
	case tcpErr == nil && total > 10000 && e != server.EngineNetpoll:
		t.Skip("past 10,000 clients over TCP, under the default engine (netpoll) only")
	}
	natsURL := startNATS(t)
	var nodes []*testNode
	for _, name := range []string{"n0", "n1", "n2"} {
		// Keepalive off: the lean clients answer only the broadcast, and
		// connecting 100,000 of them on a busy machine may take longer
		// than a keepalive interval.
		so := &server.Options{Identify: identify, Options: wsrpc.Options{KeepaliveInterval: -1}}
		// The default heartbeat timings, as a user runs: the tests' short
		// ones (testExpiry) are for the liveness tests, and a process
		// holding 100,000 connections on a busy machine may go quiet
		// longer than that while it connects them and collects garbage.
		o := testOptions(natsURL, name)
		o.HeartbeatInterval, o.HeartbeatExpiry = 0, 0
		nodes = append(nodes, startNodeWith(t, o, so))
	}
	eventually(t, func() bool { return len(nodes[0].Nodes()) == 3 }, "n0 knows every node")
	id := func(k int) string { return fmt.Sprintf("n%d-%d", k%3, k) }
	start := time.Now()
	var peers *testkit.LeanPeers
	if tcpErr == nil {
		peers = testkit.DialLean(t, []string{nodes[0].url, nodes[1].url, nodes[2].url}, total, id)
		t.Logf("%d TCP connections in %v", total, time.Since(start).Round(time.Millisecond))
	} else {
		serve := []func(net.Conn){nodes[0].Server().ServeConn, nodes[1].Server().ServeConn, nodes[2].Server().ServeConn}
		peers = testkit.DialLeanMem(t, serve, total, id)
		t.Logf("%v: %d in-memory connections in %v", tcpErr, total, time.Since(start).Round(time.Millisecond))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for k, err := nodes[1].Count(ctx); err != nil || k != total; k, err = nodes[1].Count(ctx) {
		require.NoError(t, ctx.Err(), "every client counted: %d of %d (%v)", k, total, err)
		time.Sleep(50 * time.Millisecond)
	}
	answered := make(chan error, 1)
	go func() { answered <- peers.Answer("whoami", time.Minute) }()
	start = time.Now()
	res, err := nodes[0].Broadcast(ctx, "whoami", nil)
	require.NoError(t, err)
	require.NoError(t, <-answered)
	t.Logf("broadcast to %d clients over 3 nodes answered in %v", total, time.Since(start).Round(time.Millisecond))

	require.Len(t, res, total, "one answer per client")
	seen := make(map[string]bool, total)
	for _, r := range res {
		require.NoError(t, r.Err, r.ClientID)
		var got string
		require.NoError(t, json.Unmarshal(r.Result, &got))
		require.Equal(t, r.ClientID, got, "each client's own answer")
		require.False(t, seen[got], "one answer per client")
		seen[got] = true
		require.Equal(t, r.ClientID[:2], r.Node, "the node that holds the client answers for it")
	}
}
