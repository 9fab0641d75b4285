package client

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

// serve owns the client's connections after Dial installed the first: it
// waits for the current one to end and, with Reconnect, dials the next, until Close.
func (c *Client) serve(conn *wsrpc.Conn) {
	defer close(c.done)
	attempt := 0 // attempts since the last connection that stayed up
	for {
		up := time.Now()
		<-conn.Context().Done() // closed as soon as the connection is
		c.lost(conn)
		c.setState(StateChange{State: StateDisconnected, Err: conn.Err()})
		c.mu.Lock()
		closed := c.closed
		c.mu.Unlock()
		if closed || !c.opts.Reconnect {
			c.finish(conn)
			return
		}
		if time.Since(up) >= c.opts.ReconnectMaxWait {
			attempt = 0
		}
		next, err := c.redial(c.ctx, &attempt, nil)
		if err != nil { // Close
			c.finish(conn)
			return
		}
		// Told before the calls waiting for it are released.
		c.setState(StateChange{State: StateConnected, Attempt: attempt})
		if !c.install(next) {
			c.finish(next)
			return
		}
		conn = next
	}
}

// finish marks the client closed for good once conn's handlers are done.
func (c *Client) finish(conn *wsrpc.Conn) {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	<-conn.Done()
	c.setState(StateChange{State: StateClosed})
}

// redial tries to connect, waiting backoff(*attempt) before each attempt,
// until one succeeds or ctx ends. last is why the attempt before failed.
func (c *Client) redial(ctx context.Context, attempt *int, last error) (*wsrpc.Conn, error) {
	for {
		wait := backoff(*attempt, c.opts.ReconnectMinWait, c.opts.ReconnectMaxWait)
		*attempt++
		c.setState(StateChange{State: StateReconnecting, Err: last, Attempt: *attempt, Wait: wait})
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			if last == nil {
				return nil, fmt.Errorf("wsrpc client: connect to %s: %w", c.url, ctx.Err())
			}
			return nil, fmt.Errorf("wsrpc client: connect to %s: gave up after %d attempts: %w (last attempt: %w)", c.url, *attempt-1, ctx.Err(), last)
		case <-t.C:
		}
		conn, err := c.connect(ctx)
		if err == nil {
			return conn, nil
		}
		last = err
		c.opts.Logger.Debug("wsrpc client: connection attempt failed", "url", c.url, "attempt", *attempt, "err", err)
	}
}

// backoff is the wait before reconnect attempt n (from 0): exponential from
// min, capped at max, with full jitter in its upper half.
func backoff(n int, min, max time.Duration) time.Duration {
	d := min
	for i := 0; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d/2 + rand.N(d/2+1)
}
