package main

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/wsrpc/wsrpc-go/bench/internal/wire"
)

// Load mode. One goroutine on one OS thread drives every connection from
// one epoll instance (the descriptors taken from the dialed connections):
// a connection is read once when it is ready, into a buffer shared by all,
// and what the read completed is answered with as many new calls in one
// write. Replies are found with a walk that does not allocate and checked
// against the value each call must return; a call's slot (its send time and
// expected result) is found from its id, so no map is kept. The clock is
// read once per read, not per call, and latencies go to a log-linear
// histogram: nothing is allocated per call.

const loadReadSize = 64 << 10

// report prints the summary line of a load run.
func report(o options, conns []*loadConnState, elapsed, gen time.Duration, srv0, srv1 procSample, srvErr error) error {
	var hist histogram
	var calls, wrong int64
	for _, c := range conns {
		hist.merge(&c.hist)
		calls += c.calls
		wrong += c.wrong
	}
	if wrong > 0 {
		return fmt.Errorf("%d replies were wrong", wrong)
	}
	sec := elapsed.Seconds()
	fmt.Printf("url=%s call=%s conns=%d depth=%d duration=%s\n", o.url, o.call, o.conns, o.depth, elapsed.Round(time.Millisecond))
	line := fmt.Sprintf("calls=%d calls/s=%.0f p50=%s p99=%s max=%s errors=0", calls, float64(calls)/sec,
		hist.quantile(0.50), hist.quantile(0.99), hist.quantile(1))
	perCall := func(x float64) float64 { return x / float64(max(calls, 1)) }
	line += fmt.Sprintf(" gen_cpu=%.1f%% gen_us/call=%.3f", 100*gen.Seconds()/sec, perCall(1e6*gen.Seconds()))
	if o.pid != 0 && srvErr == nil {
		cpu := srv1.cpu - srv0.cpu
		line += fmt.Sprintf(" server_cpu=%.1f%% server_us/call=%.3f server_user_us/call=%.3f sys/call=%.3f",
			100*cpu/sec, perCall(1e6*cpu), perCall(1e6*(srv1.user-srv0.user)), perCall(float64(srv1.syscalls-srv0.syscalls)))
	}
	fmt.Println(line)
	return nil
}

// slot is a call in flight.
type slot struct {
	at   time.Duration // when the read that led to it was made
	want int64         // the integer result expected; kv.get of nothing set: noValue
	kind byte          // 's' subtract, 'g' kv.get, 't' kv.set (true), 'p' ping
}

const noValue = -1 << 62

func newLoadConn(o options, fd int) *loadConnState {
	c := &loadConnState{o: o, slots: make([]slot, o.depth), Stream: wire.Stream{FD: fd}}
	c.free = make([]int, 0, o.depth)
	for i := o.depth - 1; i >= 0; i-- {
		c.free = append(c.free, i)
	}
	return c
}

// handle takes the whole frames at the start of b: replies (answered
// counts them; each is followed by a new call unless stopping) and the
// server's keepalive pings (answered).
func (c *loadConnState) handle(b []byte, at time.Duration, measuring, stopping bool) (used, answered int, err error) {
	for {
		op, payload, n, err := wire.Next(b[used:], false, loadReadSize-10)
		if err != nil || n == 0 {
			return used, answered, err
		}
		used += n
		switch op {
		case wire.OpClose:
			return used, answered, errors.New("the server closed the connection")
		case wire.OpText:
			if done, sent := c.reply(payload); done {
				answered++
				if measuring {
					c.calls++
					c.hist.add(at - sent)
				}
				if !stopping {
					c.call(at)
				}
			}
		}
	}
}

type loadConnState struct {
	wire.Stream
	calls int64
	o     options
	slots []slot
	free  []int
	seq   int64
	out   []byte
	hist  histogram
	wrong int64
}

// call appends one call to c.out. Its id is seq×depth + slot.
func (c *loadConnState) call(at time.Duration) {
	s := c.free[len(c.free)-1]
	c.free = c.free[:len(c.free)-1]
	c.seq++
	id := c.seq*int64(c.o.depth) + int64(s)
	sl := &c.slots[s]
	out, start := wire.Begin(c.out, wire.OpText, true)
	out = append(out, `{"id":`...)
	out = strconv.AppendInt(out, id, 10)
	switch c.o.call {
	case "kv":
		key := (c.seq / 2) % 8
		if c.seq%2 == 0 {
			out = append(out, `,"method":"kv.set","params":{"key":"k`...)
			out = strconv.AppendInt(out, key, 10)
			out = append(out, `","value":`...)
			out = strconv.AppendInt(out, c.seq, 10)
			sl.kind = 't'
		} else {
			// The key the call before set (on its first use, nothing).
			out = append(out, `,"method":"kv.get","params":{"key":"k`...)
			out = strconv.AppendInt(out, ((c.seq-1)/2)%8, 10)
			out = append(out, '"')
			sl.kind, sl.want = 'g', c.seq-1
			if c.seq == 1 {
				sl.want = noValue
			}
		}
	case "ping":
		out = append(out, `,"method":"ping","params":{"n":`...)
		out = strconv.AppendInt(out, c.seq, 10)
		sl.kind, sl.want = 'p', c.seq
	default:
		a, b := c.seq%1000, c.seq%37
		out = append(out, `,"method":"subtract","params":{"a":`...)
		out = strconv.AppendInt(out, a, 10)
		out = append(out, `,"b":`...)
		out = strconv.AppendInt(out, b, 10)
		sl.kind, sl.want = 's', a-b
	}
	out = append(out, "}}"...)
	c.out = wire.End(out, start, true)
	sl.at = at
}

// reply handles a text message: a reply to one of our calls (done, with its
// latency) or the server's keepalive ping (answered).
func (c *loadConnState) reply(msg []byte) (done bool, sent time.Duration) {
	id, result, method, params := parseMessage(msg)
	if method != nil {
		c.out = appendResult(c.out, id, params)
		return false, 0
	}
	s := int(id % int64(c.o.depth))
	if id < int64(c.o.depth) || s < 0 {
		c.wrong++
		return false, 0
	}
	sl := &c.slots[s]
	ok := false
	switch sl.kind {
	case 's':
		v, good := wire.Int(result)
		ok = good && v == sl.want
	case 't':
		ok = string(result) == "true"
	case 'g':
		if sl.want == noValue {
			ok = string(result) == "null"
		} else {
			v, good := wire.Int(result)
			ok = good && v == sl.want
		}
	case 'p':
		o := wire.NewObject(result)
		k, v, good := o.Next()
		n, _ := wire.Int(v)
		ok = good && string(k) == "n" && n == sl.want
	}
	if !ok {
		c.wrong++
	}
	c.free = append(c.free, s)
	return true, sl.at
}

// parseMessage finds a message's id, result, and a call's method and
// params (method is nil for a reply).
func parseMessage(msg []byte) (id int64, result, method, params []byte) {
	o := wire.NewObject(msg)
	for {
		k, v, ok := o.Next()
		if !ok {
			return id, result, method, params
		}
		switch string(k) {
		case "id":
			id, _ = wire.Int(v)
		case "result":
			result = v
		case "method":
			method = v
		case "params":
			params = v
		}
	}
}

// appendResult appends the masked frame {"id":id,"result":result} (result
// {} when nil): the answer to a keepalive ping is its params.
func appendResult(out []byte, id int64, result []byte) []byte {
	if result == nil {
		result = []byte("{}")
	}
	out, start := wire.Begin(out, wire.OpText, true)
	out = append(out, `{"id":`...)
	out = strconv.AppendInt(out, id, 10)
	out = append(out, `,"result":`...)
	out = append(out, result...)
	out = append(out, '}')
	return wire.End(out, start, true)
}
