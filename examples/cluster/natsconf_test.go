package main_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	natsio "github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"
)

// startConfNATS starts NATS with the example's nats-server.conf (on a
// free loopback port), the passwords from the environment as the file
// says.
func startConfNATS(t *testing.T) string {
	t.Helper()
	t.Setenv("WSRPC_NATS_PASSWORD", natsPassword)
	t.Setenv("APP_NATS_PASSWORD", "app-password")
	o, err := natsserver.ProcessConfigFile("nats-server.conf")
	require.NoError(t, err)
	o.Host, o.Port, o.NoLog, o.NoSigs = "127.0.0.1", -1, true, true
	s, err := natsserver.NewServer(o)
	require.NoError(t, err)
	go s.Start()
	require.True(t, s.ReadyForConnections(bound))
	t.Cleanup(s.Shutdown)
	return s.ClientURL()
}

// With the example's nats-server.conf the nodes work as a cluster, and a
// NATS user that is not a node (the "app" user) can neither subscribe to
// the cluster's subjects (to read calls, or answer one with a forged "no
// responders") nor publish on them: NATS refuses both, and the nodes and
// their clients see nothing of it.
func TestNATSConfigKeepsOthersOut(t *testing.T) {
	bin := buildExample(t)
	natsURL := startConfNATS(t)
	_, url1 := startNode(t, bin, "n1", natsURL, idSecret)
	_, url2 := startNode(t, bin, "n2", natsURL, idSecret)
	events := make(chan json.RawMessage, 16)
	alice := dial(t, withToken(url1, mint(t, bin, idSecret, "alice")), nil)
	_ = dial(t, withToken(url2, mint(t, bin, idSecret, "bob")), events)
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	tellBob := func() error {
		var product json.Number
		err := alice.Call(ctx, "tell", map[string]any{"to": "bob", "method": "multiply", "params": map[string]int{"x": 6, "y": 7}}, &product)
		if err == nil && product != "42" {
			err = errors.New("bob answered " + string(product))
		}
		return err
	}
	require.Eventually(t, func() bool { return tellBob() == nil }, bound, 50*time.Millisecond, "alice on n1 could not tell bob on n2")

	var mu sync.Mutex // guards refused
	var refused []string
	app, err := natsio.Connect(natsURL, natsio.UserInfo("app", "app-password"),
		natsio.ErrorHandler(func(_ *natsio.Conn, _ *natsio.Subscription, err error) {
			mu.Lock()
			refused = append(refused, err.Error())
			mu.Unlock()
		}))
	require.NoError(t, err)
	defer app.Close()
	_, err = app.Subscribe("wsrpc.>", func(*natsio.Msg) { t.Error("the app user read the cluster's traffic") })
	require.NoError(t, err) // refused asynchronously
	for _, subject := range []string{"wsrpc.emit", "wsrpc.node.n2.call", "wsrpc.nodes"} {
		require.NoError(t, app.Publish(subject, []byte(`{"id":1,"result":"SPOOFED"}`)))
	}
	require.NoError(t, app.FlushTimeout(bound))
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(refused) >= 4
	}, bound, 10*time.Millisecond, "NATS refuses the subscription and the three publishes")
	mu.Lock()
	for _, e := range refused {
		require.Contains(t, e, "Permissions Violation")
	}
	mu.Unlock()

	require.NoError(t, tellBob(), "the cluster works on")
	select {
	case ev := <-events:
		t.Fatalf("bob received %s", ev)
	case <-time.After(200 * time.Millisecond):
	}
}
