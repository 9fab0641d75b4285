package main

import (
	"bytes"
	"errors"
	"strconv"

	"github.com/wsrpc/wsrpc-go/bench/internal/wire"
)

// errClosed ends a connection whose peer sent a close frame.
var errClosed = errors.New("floor: closed by the peer")

// peer is one connection's state: its kv map and the replies to the read
// being handled.
type peer struct {
	kv  map[string]*[]byte
	out []byte
}

// feed handles every whole frame at the start of b, appending the replies
// to p.out, and returns the bytes it used.
func (p *peer) feed(b []byte) (int, error) {
	used := 0
	for {
		op, payload, n, err := wire.Next(b[used:], true, readSize-14)
		if err != nil {
			return used, err
		}
		if n == 0 {
			return used, nil
		}
		used += n
		switch op {
		case wire.OpText:
			p.answer(payload)
		case wire.OpPing:
			p.out = wire.Append(p.out, wire.OpPong, payload, false)
		case wire.OpClose:
			p.out = wire.Append(p.out, wire.OpClose, nil, false)
			return used, errClosed
		}
	}
}

var (
	mSubtract = []byte("subtract")
	mSet      = []byte("kv.set")
	mGet      = []byte("kv.get")
	mPing     = []byte("ping")
)

// answer appends the reply to one call: {"id":N,"result":R}.
func (p *peer) answer(msg []byte) {
	var id, method, params []byte
	o := wire.NewObject(msg)
	for {
		k, v, ok := o.Next()
		if !ok {
			break
		}
		switch string(k) {
		case "id":
			id = v
		case "method":
			method, _ = wire.Unquote(v)
		case "params":
			params = v
		}
	}
	if o.Err() || id == nil {
		return
	}
	out, start := wire.Begin(p.out, wire.OpText, false)
	out = append(out, `{"id":`...)
	out = append(out, id...)
	out = append(out, `,"result":`...)
	switch {
	case bytes.Equal(method, mSubtract):
		av, bv := members(params, "a", "b")
		a, _ := wire.Int(av)
		b, _ := wire.Int(bv)
		out = strconv.AppendInt(out, a-b, 10)
	case bytes.Equal(method, mSet), bytes.Equal(method, mGet):
		quoted, value := members(params, "key", "value")
		key, _ := wire.Unquote(quoted)
		if method[3] == 's' {
			p.set(key, value)
			out = append(out, "true"...)
		} else if v := p.kv[string(key)]; v != nil {
			out = append(out, *v...)
		} else {
			out = append(out, "null"...)
		}
	case bytes.Equal(method, mPing):
		if params == nil {
			params = []byte("{}")
		}
		out = append(out, params...)
	default:
		out = append(out, "null"...)
	}
	out = append(out, '}')
	p.out = wire.End(out, start, false)
}

// members returns the values of members k1 and k2 of the object obj.
func members(obj []byte, k1, k2 string) (v1, v2 []byte) {
	o := wire.NewObject(obj)
	for {
		k, v, ok := o.Next()
		if !ok {
			return v1, v2
		}
		switch string(k) {
		case k1:
			v1 = v
		case k2:
			v2 = v
		}
	}
}

// set stores a copy of value under key, in the buffer the key had.
func (p *peer) set(key, value []byte) {
	if v := p.kv[string(key)]; v != nil {
		*v = append((*v)[:0], value...)
		return
	}
	if p.kv == nil {
		p.kv = make(map[string]*[]byte)
	}
	v := append([]byte(nil), value...)
	p.kv[string(key)] = &v
}
