// This file owns the call-name index: the names a peer calls (a function
// route's, a struct route's, and "route.member" for each exposed member),
// found with one hash of the name and, almost always, one comparison. The
// registry builds it with every change; the read path only reads it.

package wsrpc

// callTarget is what a called name resolves to: exactly one of fr and sr
// is set; for a struct member, member is its wire name, full is
// "route.member" and m its method.
type callTarget struct {
	name   string
	fr     *funcRoute
	sr     *structRoute
	member string
	full   string
	m      *method
}

// callIndex is an open-addressing hash table of callTargets, at most half
// full. It only ever holds registered names: a name a peer sends that is
// not one of them ends its probe at the first empty slot, so the cost of a
// lookup depends on the registry, not on what peers send.
type callIndex struct {
	slots []callTarget // len is a power of two; name "" is empty
}

// hashName is FNV-1a of the whole name.
func hashName(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// newCallIndex indexes the routes of m: each name as registered, then each
// exposed member of a struct route as "route.member" unless a route has
// that exact name (an exact function-route match wins, see Registry.Add).
func newCallIndex(m map[string]routeRef) *callIndex {
	var targets []callTarget
	for name, ref := range m {
		targets = append(targets, callTarget{name: name, fr: ref.fr, sr: ref.sr})
	}
	for _, ref := range m {
		if ref.sr == nil {
			continue
		}
		for member, w := range ref.sr.full {
			if _, taken := m[w.name]; !taken {
				targets = append(targets, callTarget{name: w.name, sr: ref.sr, member: member, full: w.name, m: w.m})
			}
		}
	}
	n := 16
	for n < 2*len(targets) {
		n *= 2
	}
	x := &callIndex{slots: make([]callTarget, n)}
	for _, t := range targets {
		i := hashName(t.name) & uint32(n-1)
		for x.slots[i].name != "" {
			i = (i + 1) & uint32(n-1)
		}
		x.slots[i] = t
	}
	return x
}

// find returns the target called name, or nil.
func (x *callIndex) find(name string) *callTarget {
	if x == nil || name == "" {
		return nil
	}
	mask := uint32(len(x.slots) - 1)
	for i := hashName(name) & mask; ; i = (i + 1) & mask {
		t := &x.slots[i]
		if t.name == "" {
			return nil
		}
		if t.name == name {
			return t
		}
	}
}
