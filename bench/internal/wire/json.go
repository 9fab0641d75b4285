package wire

// Object walks the members of a JSON object in one pass: keys are returned
// without their quotes (escapes left as they are), values raw. It checks
// the structure (quotes, brackets, commas, colons), not the spelling of
// numbers and literals: the least work that reads a message correctly.
type Object struct {
	b   []byte
	i   int
	bad bool
}

// NewObject starts a walk of the object b (surrounding space allowed); Next
// returns false at once when b is not an object.
func NewObject(b []byte) Object {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return Object{bad: true}
	}
	return Object{b: b, i: i + 1}
}

// Next returns the next member; ok is false at the end or on a malformed
// object (Err tells which).
func (o *Object) Next() (key, value []byte, ok bool) {
	if o.bad {
		return nil, nil, false
	}
	b := o.b
	i := skipSpace(b, o.i)
	if i < len(b) && b[i] == ',' {
		i = skipSpace(b, i+1)
	} else if i < len(b) && b[i] == '}' {
		o.i, o.b = len(b), nil
		return nil, nil, false
	}
	if i >= len(b) || b[i] != '"' {
		o.bad = true
		return nil, nil, false
	}
	end, good := skipString(b, i)
	if !good {
		o.bad = true
		return nil, nil, false
	}
	key = b[i+1 : end-1]
	i = skipSpace(b, end)
	if i >= len(b) || b[i] != ':' {
		o.bad = true
		return nil, nil, false
	}
	i = skipSpace(b, i+1)
	end, good = SkipValue(b, i)
	if !good {
		o.bad = true
		return nil, nil, false
	}
	o.i = end
	return key, b[i:end], true
}

// Err reports whether the walk stopped on a malformed object.
func (o *Object) Err() bool { return o.bad }

// class sorts bytes for the walks: what ends a scalar, what a container
// walk has to look at.
var class = func() (t [256]byte) {
	for _, c := range []byte(" \t\r\n") {
		t[c] = cSpace | cEnd
	}
	t[','], t['}'], t[']'] = cEnd, cEnd|cClose, cEnd|cClose
	t['{'], t['['] = cOpen, cOpen
	t['"'], t['\\'] = cQuote, cEscape
	return t
}()

const (
	cSpace = 1 << iota
	cEnd
	cOpen
	cClose
	cQuote
	cEscape
)

func skipSpace(b []byte, i int) int {
	for i < len(b) && class[b[i]]&cSpace != 0 {
		i++
	}
	return i
}

// skipString returns the end of the string that starts at b[i] (a quote).
func skipString(b []byte, i int) (int, bool) {
	for i++; i < len(b); i++ {
		if k := class[b[i]]; k&(cQuote|cEscape) != 0 {
			if k == cQuote {
				return i + 1, true
			}
			i++
		}
	}
	return 0, false
}

// SkipValue returns the end of the value that starts at b[i].
func SkipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch class[b[i]] {
	case cQuote:
		return skipString(b, i)
	case cOpen:
		depth := 0
		for ; i < len(b); i++ {
			k := class[b[i]]
			if k&(cOpen|cClose|cQuote) == 0 {
				continue
			}
			switch {
			case k == cQuote:
				end, ok := skipString(b, i)
				if !ok {
					return 0, false
				}
				i = end - 1
			case k == cOpen:
				depth++
			default:
				if depth--; depth == 0 {
					return i + 1, true
				}
			}
		}
		return 0, false
	}
	j := i
	for j < len(b) && class[b[j]]&cEnd == 0 {
		j++
	}
	return j, j > i
}

// Int parses a decimal integer of at most 18 digits; ok is false for
// anything else. (A loop of its own: strconv.ParseInt costs the floor a
// fifth of its instructions per subtract call. It is kept apart from
// examples/introduction/intro's smallInt on purpose: that one is example
// code users copy, takes a '+' and at most 9 digits so that products stay
// exact, and neither package should import the other.)
func Int(b []byte) (v int64, ok bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

// Unquote returns the contents of a JSON string without escapes; ok is
// false for anything else (the benchmark's keys never need unescaping).
func Unquote(v []byte) ([]byte, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return nil, false
	}
	v = v[1 : len(v)-1]
	for _, c := range v {
		if c == '\\' {
			return nil, false
		}
	}
	return v, true
}
