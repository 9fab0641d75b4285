package server

import (
	"hash/maphash"
	"math/bits"
	"slices"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

// idIndex finds a connected client's place in Server.order by its id. It
// is an open-addressing hash table of those places (plus one: 0 is an
// empty slot), with linear probing and deletion by backward shift, kept at
// most three quarters full: 5 to 11 bytes a connection. The ids stay in the
// connections (a random one is 16 bytes there, formatted when compared),
// where a map[string]int32 kept each as a string of its own besides its
// entry: about 100 bytes a connection.
type idIndex struct {
	slots []int32
	n     int // the places held
	seed  maphash.Seed
}

// idBufSize holds the ids Identify may give (ValidID: at most 128 bytes)
// on the stack.
const idBufSize = 128

func (x *idIndex) home(id []byte) int {
	return int(maphash.Bytes(x.seed, id) & uint64(len(x.slots)-1))
}

// find returns the slot holding id's place in order, or the empty slot
// where it would go, with found false (len(x.slots) > 0).
func (x *idIndex) find(order []*wsrpc.Conn, id []byte) (slot int, found bool) {
	var buf [idBufSize]byte
	mask := len(x.slots) - 1
	for i := x.home(id); ; i = (i + 1) & mask {
		v := x.slots[i]
		if v == 0 {
			return i, false
		}
		if string(order[v-1].AppendID(buf[:0])) == string(id) {
			return i, true
		}
	}
}

// get returns the place in order of the client with id, or -1.
func (x *idIndex) get(order []*wsrpc.Conn, id string) int {
	if x.n == 0 {
		return -1
	}
	var buf [idBufSize]byte
	if i, ok := x.find(order, append(buf[:0], id...)); ok {
		return int(x.slots[i] - 1)
	}
	return -1
}

// reserve makes room for one more client; order is what is indexed.
func (x *idIndex) reserve(order []*wsrpc.Conn) {
	if 4*(x.n+1) > 3*len(x.slots) {
		x.rebuild(order, max(16, 2*len(x.slots)))
	}
}

// put records that c (not nil) is at order[at], returning the place of the
// client that had c's id before, or -1. A place must be reserved.
func (x *idIndex) put(order []*wsrpc.Conn, c *wsrpc.Conn, at int) (old int) {
	var buf [idBufSize]byte
	i, found := x.find(order, c.AppendID(buf[:0]))
	old = -1
	if found {
		old = int(x.slots[i] - 1)
	} else {
		x.n++
	}
	x.slots[i] = int32(at + 1)
	return old
}

// remove forgets c and returns its place in order, or -1 when c is not
// the client indexed under its id (it left, or was replaced).
func (x *idIndex) remove(order []*wsrpc.Conn, c *wsrpc.Conn) (at int) {
	if x.n == 0 {
		return -1
	}
	var buf [idBufSize]byte
	i, found := x.find(order, c.AppendID(buf[:0]))
	if !found || order[x.slots[i]-1] != c {
		return -1
	}
	at = int(x.slots[i] - 1)
	x.n--
	// Backward shift: each entry after i in its run moves into the gap when
	// the gap lies between its home slot and where it is.
	mask := len(x.slots) - 1
	for j := (i + 1) & mask; x.slots[j] != 0; j = (j + 1) & mask {
		h := x.home(order[x.slots[j]-1].AppendID(buf[:0]))
		if (j-h)&mask >= (j-i)&mask {
			x.slots[i] = x.slots[j]
			i = j
		}
	}
	x.slots[i] = 0
	return at
}

// rebuild indexes the clients of order (nil where none) in a table of
// size slots (a power of two, at least 4/3 of their number).
func (x *idIndex) rebuild(order []*wsrpc.Conn, size int) {
	if len(x.slots) == 0 {
		x.seed = maphash.MakeSeed()
	}
	x.slots, x.n = make([]int32, size), 0
	for at, c := range order {
		if c != nil {
			x.put(order, c, at)
		}
	}
}

// appendDoubling appends v to s, doubling s's capacity when it is full:
// append grows a large slice by a quarter at a time, which leaves about
// four times the slice's final size behind as garbage while connections
// arrive (the collector's work, and heap it keeps); doubling leaves about
// once.
func appendDoubling[T any](s []T, v T) []T {
	if len(s) == cap(s) {
		s = slices.Grow(s, max(len(s), 16))
	}
	return append(s, v)
}

// sizeFor is the table size for n clients: a power of two, at least 16
// and more than 4/3 of n.
func sizeFor(n int) int { return max(16, 1<<bits.Len(uint(4*n/3))) }
