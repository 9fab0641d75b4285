package wsrpc_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/internal/testkit"
)

// errDraining is how a draining connection answers a new call.
var errDraining = &wsrpc.Error{Type: wsrpc.TypeRuntimeError}

// awaitRefusal calls ping until the connection refuses it for draining, and
// returns that refusal; it fails the test if the connection keeps
// answering.
func awaitRefusal(t *testing.T, c wsrpc.Caller) error {
	t.Helper()
	var err error
	require.Eventually(t, func() bool {
		err = c.Call(testCtx(t), "ping", nil, nil)
		return err != nil
	}, 5*time.Second, 5*time.Millisecond, "calls are still answered: the connection does not drain")
	return err
}

func TestDrainRefusesNewCallsAndFinishesRunningOnes(t *testing.T) {
	forEachEngine(t, testDrainRefusesNewCallsAndFinishesRunningOnes)
}

func testDrainRefusesNewCallsAndFinishesRunningOnes(t *testing.T) {
	srv, url := newServer(t, nil)
	started, release := testkit.HoldRoute(t, srv)
	creg := wsrpc.NewRegistry()
	creg.MustAdd("hello", func() string { return "from the client" })
	c := dial(t, url, creg, nil)
	ctx := testCtx(t)

	held := make(chan error, 1)
	go func() {
		var ok bool
		err := c.Call(ctx, "hold", nil, &ok)
		if err == nil && !ok {
			err = errors.New("hold returned false: its context ended before the release")
		}
		held <- err
	}()
	recv(t, started, "the held call to start")
	require.Len(t, srv.Clients(), 1)
	sc := srv.Clients()[0]

	drained := make(chan error, 1)
	go func() { drained <- sc.Drain(ctx) }()

	err := awaitRefusal(t, c)
	require.ErrorIs(t, err, errDraining)
	require.Contains(t, err.Error(), "shutting down and takes no new calls")
	select {
	case err := <-drained:
		t.Fatalf("Drain returned (%v) while a call was still running", err)
	default:
	}
	// Outgoing calls keep working while the connection drains.
	var hello string
	require.NoError(t, sc.Call(ctx, "hello", nil, &hello))
	require.Equal(t, "from the client", hello)

	close(release)
	require.NoError(t, recv(t, held, "the held call's reply"), "the running call must be answered")
	require.NoError(t, recv(t, drained, "Drain to return"))
	// Still draining: new calls stay refused, and the connection stays up.
	require.ErrorIs(t, c.Call(ctx, "ping", nil, nil), errDraining)
	require.Len(t, srv.Clients(), 1)
}

func TestDrainEndsWithItsContext(t *testing.T) {
	forEachEngine(t, testDrainEndsWithItsContext)
}

func testDrainEndsWithItsContext(t *testing.T) {
	srv, url := newServer(t, nil)
	started, release := testkit.HoldRoute(t, srv)
	defer close(release)
	c := dial(t, url, nil, nil)
	go func() { _ = c.Call(context.Background(), "hold", nil, nil) }()
	recv(t, started, "the held call to start")

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	drained := make(chan error, 1)
	go func() { drained <- srv.Clients()[0].Drain(ctx) }()
	require.ErrorIs(t, recv(t, drained, "Drain to return when its context ends"), context.DeadlineExceeded)
}
