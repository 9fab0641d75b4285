package nats

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"

	natsio "github.com/nats-io/nats.go"
)

// The trust model: every message between nodes carries, in the header
// headerAuth, an HMAC-SHA256 under the cluster secret of everything that
// matters in it (sender, sequence, time, subject, reply subject, body).
// A node drops, and counts, any message whose MAC does not verify under
// one of its secrets (two during a rotation), whose time is more than
// replayWindow from its own clock, or whose sequence it already saw from
// that sender (a replay).

// headerAuth carries a message's authentication:
// "<key id> <node> <inst> <seq> <unix ms> <mac>".
const headerAuth = "Wsrpc-Auth"

// replayWindow bounds how old (or how far ahead, by clock skew) a
// message may be; within it, sequences catch replays.
const replayWindow = time.Minute

// MinSecretLength is the shortest cluster secret accepted.
const MinSecretLength = 16

// errAuth is why a message was dropped as not from a node of the cluster.
var errAuth = errors.New("wsrpc cluster: message not signed by a node of this cluster")

// key is one cluster secret and a pool of its HMACs.
type key struct {
	id   string    // the first bytes of the secret's SHA-256, in hex
	pool sync.Pool // of *macer
}

// macer is an HMAC under a key and a scratch buffer for the fields of a
// message.
type macer struct {
	h   hash.Hash
	buf []byte
}

func newKey(secret string) *key {
	sum := sha256.Sum256([]byte("wsrpc-cluster-key-id\n" + secret))
	k := &key{id: hex.EncodeToString(sum[:4])}
	k.pool.New = func() any { return &macer{h: hmac.New(sha256.New, []byte(secret))} }
	return k
}

// mac computes the MAC of a message's fields into dst.
func (k *key) mac(dst []byte, node, inst, seq, ts, subject, reply string, body []byte) []byte {
	m := k.pool.Get().(*macer)
	m.h.Reset()
	// The fields, each ended by a newline, in one write from a buffer
	// kept with the HMAC: no conversion or hashing call per field.
	m.buf = m.buf[:0]
	for _, s := range [...]string{"wsrpc1", k.id, node, inst, seq, ts, subject, reply} {
		m.buf = append(m.buf, s...)
		m.buf = append(m.buf, '\n')
	}
	m.h.Write(m.buf)
	m.h.Write(body)
	dst = m.h.Sum(dst)
	if cap(m.buf) > 4096 {
		m.buf = nil // a long subject once: not kept
	}
	k.pool.Put(m)
	return dst
}

// auth signs this node's messages and verifies the others'.
type auth struct {
	keys []*key // keys[0] signs; every one verifies
	node string
	inst string

	pubMu sync.Mutex // protects seq, and orders it with publishing
	seq   uint64

	mu   sync.Mutex              // protects seen
	seen map[string]*replayState // per sender inst and subscription
}

// replayState is what a receiver remembers of one sender on one
// subscription: the highest sequence and which of the 256 before it came.
type replayState struct {
	top      uint64
	bits     [4]uint64
	lastSeen time.Time
}

func newAuth(node, inst string, secrets []string) *auth {
	a := &auth{node: node, inst: inst, seen: make(map[string]*replayState)}
	for _, s := range secrets {
		a.keys = append(a.keys, newKey(s))
	}
	return a
}

// publish signs msg and publishes it on nc, under the lock that numbers
// this node's messages so that each receiver sees them in order.
func (a *auth) publish(nc *natsio.Conn, msg *natsio.Msg) error {
	a.pubMu.Lock()
	defer a.pubMu.Unlock()
	a.signNextLocked(msg)
	return nc.PublishMsg(msg)
}

// signNextLocked signs msg with this node's next sequence (a.pubMu held).
func (a *auth) signNextLocked(msg *natsio.Msg) {
	a.seq++
	a.sign(msg, a.seq, time.Now())
}

func (a *auth) sign(msg *natsio.Msg, seq uint64, now time.Time) {
	k := a.keys[0]
	s := strconv.FormatUint(seq, 10)
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	var buf [sha256.Size]byte
	mac := k.mac(buf[:0], a.node, a.inst, s, ts, msg.Subject, msg.Reply, msg.Data)
	if msg.Header == nil {
		msg.Header = natsio.Header{}
	}
	v := make([]byte, 0, len(k.id)+len(a.node)+len(a.inst)+len(s)+len(ts)+5+base64.RawURLEncoding.EncodedLen(len(mac)))
	for _, f := range [...]string{k.id, a.node, a.inst, s, ts} {
		v = append(append(v, f...), ' ')
	}
	msg.Header[headerAuth] = []string{string(base64.RawURLEncoding.AppendEncode(v, mac))}
}

// sender is the node a verified message came from.
type sender struct{ node, inst string }

// verify checks msg's MAC, time and sequence; class names the
// subscription it came on (each keeps its own sequences).
func (a *auth) verify(msg *natsio.Msg, class string, now time.Time) (sender, error) {
	f, err := a.authentic(msg, msg.Subject)
	if err != nil {
		return sender{}, err
	}
	seq, err1 := strconv.ParseUint(f[3], 10, 64)
	ms, err2 := strconv.ParseInt(f[4], 10, 64)
	if err1 != nil || err2 != nil {
		return sender{}, errAuth
	}
	if d := now.Sub(time.UnixMilli(ms)); d > replayWindow || d < -replayWindow {
		return sender{}, errors.New("wsrpc cluster: message outside the replay window (are the hosts' clocks synchronised?)")
	}
	if !a.fresh(f[2]+" "+class, seq, now) {
		return sender{}, errors.New("wsrpc cluster: replayed message")
	}
	return sender{node: f[1], inst: f[2]}, nil
}

// authentic checks msg's MAC as signed for subject, not its time or
// sequence (what verify adds): alone, it is the check of a message
// stored and read back later. It returns the fields of the signature.
func (a *auth) authentic(msg *natsio.Msg, subject string) ([]string, error) {
	var v string
	if msg.Header != nil {
		if vs := msg.Header[headerAuth]; len(vs) == 1 {
			v = vs[0]
		}
	}
	f := strings.Fields(v)
	if len(f) != 6 || len(f[5]) > 64 {
		return nil, errAuth
	}
	var k *key
	for _, c := range a.keys {
		if c.id == f[0] {
			k = c
		}
	}
	if k == nil || !validName(f[1]) || !validName(f[2]) {
		return nil, errAuth
	}
	got, err := base64.RawURLEncoding.DecodeString(f[5])
	if err != nil {
		return nil, errAuth
	}
	var buf [sha256.Size]byte
	if !hmac.Equal(got, k.mac(buf[:0], f[1], f[2], f[3], f[4], subject, msg.Reply, msg.Data)) {
		return nil, errAuth
	}
	return f, nil
}

// signNext signs msg with this node's next sequence, for a message
// published otherwise than by publish (JetStream's publish), and returns
// a name unique to the message: this node's inst and the sequence.
func (a *auth) signNext(msg *natsio.Msg) string {
	a.pubMu.Lock()
	defer a.pubMu.Unlock()
	a.signNextLocked(msg)
	return a.inst + "-" + strconv.FormatUint(a.seq, 10)
}

// fresh records seq from one sender and reports whether it is new.
func (a *auth) fresh(from string, seq uint64, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.seen[from]
	if st == nil {
		st = &replayState{}
		a.seen[from] = st
	}
	st.lastSeen = now
	return st.record(seq)
}

func (st *replayState) record(seq uint64) bool {
	const width = uint64(len(st.bits) * 64)
	switch {
	case seq == 0:
		return false
	case seq > st.top:
		st.shift(seq - st.top)
		st.top = seq
		st.bits[0] |= 1
		return true
	case st.top-seq >= width:
		return false // too old to tell: refused
	}
	d := st.top - seq
	w, b := d/64, d%64
	if st.bits[w]&(1<<b) != 0 {
		return false
	}
	st.bits[w] |= 1 << b
	return true
}

// shift moves the window n sequences on: bit i becomes bit i+n.
func (st *replayState) shift(n uint64) {
	const words = uint64(len(st.bits))
	if n >= words*64 {
		st.bits = [4]uint64{}
		return
	}
	w, b := n/64, n%64
	var out [4]uint64
	for i := words - 1; i >= w && i < words; i-- {
		out[i] = st.bits[i-w] << b
		if b > 0 && i > w {
			out[i] |= st.bits[i-w-1] >> (64 - b)
		}
	}
	st.bits = out
}

// forget drops the state of senders not heard from for the replay window:
// their old messages are refused by time from then on.
func (a *auth) forget(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, st := range a.seen {
		if now.Sub(st.lastSeen) > 2*replayWindow {
			delete(a.seen, k)
		}
	}
}
