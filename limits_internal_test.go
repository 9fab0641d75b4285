package wsrpc

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// stuckTransport is a peer that does not read: every write blocks until
// the test ends. It records what it was asked to write and the close code.
type stuckTransport struct {
	release chan struct{}
	mu      sync.Mutex
	written []string
	code    int
}

func newStuckTransport(t *testing.T, stuck bool) *stuckTransport {
	st := &stuckTransport{release: make(chan struct{})}
	if !stuck {
		close(st.release)
	} else {
		t.Cleanup(func() { close(st.release) })
	}
	return st
}

func (s *stuckTransport) WriteMessages(msgs [][]byte) error {
	<-s.release
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range msgs {
		s.written = append(s.written, string(m))
	}
	return nil
}

func (s *stuckTransport) Close(code int, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.code = code
	return nil
}

func (s *stuckTransport) closeCode() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.code
}

// idle waits until c runs and holds no call.
func idle(t *testing.T, c *Conn) {
	t.Helper()
	require.Eventually(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.sched.running == 0 && c.sched.waiting == nil
	}, 5*time.Second, 100*time.Microsecond)
}

// A peer that sends tiny calls and reads nothing is closed (1008,
// ErrSendQueueFull) once the replies hold MaxSendQueueBytes: each reply is
// charged its pooled buffer and the entry overhead, not its 20-odd bytes.
func TestSendQueueChargesWhatEachMessageHolds(t *testing.T) {
	const limit = 64 << 10
	st := newStuckTransport(t, true)
	c := NewConn(st, ConnConfig{Options: &Options{KeepaliveInterval: -1, MaxSendQueueBytes: limit}})
	c.Start()
	minCost := int64(cap(*getBuf())) + QueuedMessageOverhead // a reply holds at least a pooled buffer
	sent := 0
	for ; sent < 10000 && c.Err() == nil; sent++ {
		c.HandleMessage([]byte(fmt.Sprintf(`{"id":%d,"method":"ping"}`, sent+1)))
		// Its reply is queued once it finished: all calls have but the
		// first, whose goroutine is stuck writing the first batch.
		require.Eventually(t, func() bool {
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.closed || c.sched.running <= 1 && (c.sched.waiting == nil || c.sched.waiting.calls == 0)
		}, 5*time.Second, 100*time.Microsecond)
		require.LessOrEqual(t, c.Stats().SendQueueBytes, int64(limit), "held past the limit after %d calls", sent+1)
	}
	require.Eventually(t, func() bool { return c.Err() != nil }, 5*time.Second, time.Millisecond)
	require.ErrorIs(t, c.Err(), ErrSendQueueFull)
	require.Eventually(t, func() bool { return st.closeCode() == closePolicyViolated }, 5*time.Second, time.Millisecond)
	require.LessOrEqual(t, int64(sent), limit/minCost+2, "replies were charged less than their buffers")
}

// Calls count against MaxQueuedBytes from admission until their handler
// returns, running or waiting, on either side (the client engine is this
// one): 200 calls with 64 KiB params against a slow handler are admitted
// only while what they hold fits; the others get a RuntimeError at once.
func TestQueuedBytesCountRunningCalls(t *testing.T) {
	const limit = 1 << 20
	release := make(chan struct{})
	reg := NewRegistry()
	reg.MustAdd("slow", func(ctx context.Context, p json.RawMessage) int {
		<-release
		return len(p)
	})
	st := newStuckTransport(t, false)
	c := NewConn(st, ConnConfig{Role: RoleClient, Registry: reg, Options: &Options{KeepaliveInterval: -1, MaxQueuedBytes: limit}})
	c.Start()
	t.Cleanup(func() { _ = c.Close() })
	msg := func(id int) []byte {
		return []byte(fmt.Sprintf(`{"id":%d,"method":"slow","params":"%s"}`, id, strings.Repeat("x", 64<<10)))
	}
	fp := callFootprint(make([]byte, len(msg(100)))) // what one call holds
	want := int(limit / fp)
	require.Less(t, want, DefaultMaxConcurrentRequests, "the test must be bounded by bytes, not by the slots")

	for id := 100; id < 300; id++ {
		c.HandleMessage(msg(id))
		require.LessOrEqual(t, c.Stats().QueuedBytes, int64(limit))
	}
	c.mu.Lock()
	admitted := int(c.sched.running) + c.sched.waiting.calls
	c.mu.Unlock()
	require.Equal(t, want, admitted, "calls admitted (running or waiting) while their bytes fit")
	require.Equal(t, int64(want)*fp, c.Stats().QueuedBytes)
	refused := func() int {
		st.mu.Lock()
		defer st.mu.Unlock()
		n := 0
		for _, w := range st.written {
			if strings.Contains(w, `"type":"RuntimeError"`) && strings.Contains(w, "MaxQueuedBytes=1048576") {
				n++
			}
		}
		return n
	}
	require.Eventually(t, func() bool { return refused() == 200-want }, 5*time.Second, time.Millisecond)

	close(release)
	idle(t, c)
	require.Zero(t, c.Stats().QueuedBytes)
	st.mu.Lock()
	require.Len(t, st.written, 200, "every call was answered once")
	st.mu.Unlock()
}
