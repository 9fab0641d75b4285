// This file owns the JSON scanner of the read path: it finds where a value
// ends in one pass, checking arrays and objects as strictly as
// encoding/json.Valid, so that nothing downstream has to walk them again to
// validate them.

package wsrpc

import "errors"

// errMalformed is the error the scanner reports for bytes that are not the
// JSON it expects.
var errMalformed = errors.New("malformed JSON")

func skipSpace(d []byte, i int) int {
	for i < len(d) && isJSONSpace(d[i]) {
		i++
	}
	return i
}

// isTokenEnd reports whether c may follow a scalar token (as the jlexer
// tokenizer decides).
func isTokenEnd(c byte) bool {
	return isJSONSpace(c) || c == '[' || c == ']' || c == '{' || c == '}' || c == ',' || c == ':'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// skipString returns the index after the JSON string that starts at d[i]
// (a quote), or -1 when it is not a valid string: a control character, a
// bad escape or no closing quote.
func skipString(d []byte, i int) int {
	end, _ := skipStringEsc(d, i)
	return end
}

// skipStringEsc is skipString that also reports whether the string holds
// an escape.
func skipStringEsc(d []byte, i int) (end int, escaped bool) {
	for i++; i < len(d); i++ {
		switch c := d[i]; {
		case c == '"':
			return i + 1, escaped
		case c == '\\':
			escaped = true
			i++
			if i >= len(d) {
				return -1, escaped
			}
			switch d[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(d) || !isHex(d[i+1]) || !isHex(d[i+2]) || !isHex(d[i+3]) || !isHex(d[i+4]) {
					return -1, escaped
				}
				i += 4
			default:
				return -1, escaped
			}
		case c < 0x20:
			return -1, escaped
		}
	}
	return -1, escaped
}

// skipNumber returns the index after the JSON number that starts at d[i]
// (-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?), or -1.
func skipNumber(d []byte, i int) int {
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i >= len(d):
		return -1
	case d[i] == '0':
		i++
	case d[i] >= '1' && d[i] <= '9':
		for i++; i < len(d) && isDigit(d[i]); i++ {
		}
	default:
		return -1
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || !isDigit(d[i]) {
			return -1
		}
		for i++; i < len(d) && isDigit(d[i]); i++ {
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || !isDigit(d[i]) {
			return -1
		}
		for i++; i < len(d) && isDigit(d[i]); i++ {
		}
	}
	return i
}

// skipLiteral returns the index after lit if d[i:] starts with it, or -1.
func skipLiteral(d []byte, i int, lit string) int {
	if len(d)-i < len(lit) || string(d[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// skipStrictScalar returns the index after the string, number or literal
// that starts at d[i], or -1.
func skipStrictScalar(d []byte, i int) int {
	switch c := d[i]; {
	case c == '"':
		return skipString(d, i)
	case c == '-' || isDigit(c):
		return skipNumber(d, i)
	case c == 't':
		return skipLiteral(d, i, "true")
	case c == 'f':
		return skipLiteral(d, i, "false")
	case c == 'n':
		return skipLiteral(d, i, "null")
	}
	return -1
}

// skipValue returns the index after the JSON value that starts at d[i] (no
// leading space), or -1 when it is not valid JSON as encoding/json.Valid
// decides. Nesting costs no recursion: a bit per level says whether it is an
// object (a word holds the first 64 levels), so deep input needs no stack.
func skipValue(d []byte, i int) int {
	if i >= len(d) {
		return -1
	}
	if c := d[i]; c != '{' && c != '[' {
		return skipStrictScalar(d, i)
	}
	var (
		low   uint64   // bit k: level k is an object, for k < 64
		high  []uint64 // the same for the levels beyond
		depth int      // open containers
	)
	// inObject reports whether the innermost open container is an object.
	inObject := func() bool {
		k := depth - 1
		if k < 64 {
			return low&(1<<k) != 0
		}
		return high[(k-64)/64]&(1<<((k-64)%64)) != 0
	}
	open := func(object bool) {
		k := depth
		if k < 64 {
			if object {
				low |= 1 << k
			} else {
				low &^= 1 << k
			}
		} else {
			if (k-64)/64 >= len(high) {
				high = append(high, 0)
			}
			if object {
				high[(k-64)/64] |= 1 << ((k - 64) % 64)
			} else {
				high[(k-64)/64] &^= 1 << ((k - 64) % 64)
			}
		}
		depth++
	}
	for {
		// At the start of a value, after any space.
		if i >= len(d) {
			return -1
		}
		switch c := d[i]; c {
		case '{':
			open(true)
			if i = skipSpace(d, i+1); i < len(d) && d[i] == '}' {
				depth--
				i++
				break
			}
			if i = skipMemberKey(d, i); i < 0 {
				return -1
			}
			continue
		case '[':
			open(false)
			if i = skipSpace(d, i+1); i < len(d) && d[i] == ']' {
				depth--
				i++
				break
			}
			continue
		case '"':
			if i = skipString(d, i); i < 0 {
				return -1
			}
		default:
			if c == '-' || isDigit(c) {
				i = skipNumber(d, i)
			} else {
				i = skipStrictScalar(d, i)
			}
			if i < 0 {
				return -1
			}
		}
		// After a value: close containers, or move to the next element.
		for {
			if depth == 0 {
				return i
			}
			if i < len(d) && isJSONSpace(d[i]) {
				i = skipSpace(d, i)
			}
			if i >= len(d) {
				return -1
			}
			c := d[i]
			if c == ',' {
				i = skipSpace(d, i+1)
				if inObject() {
					if i = skipMemberKey(d, i); i < 0 {
						return -1
					}
				}
				break
			}
			if c != '}' && c != ']' || (c == '}') != inObject() {
				return -1
			}
			depth--
			i++
		}
	}
}

// skipMemberKey checks `"key" :` at d[i] and returns the index of the
// value after it (space skipped), or -1.
func skipMemberKey(d []byte, i int) int {
	if i >= len(d) || d[i] != '"' {
		return -1
	}
	if i = skipString(d, i); i < 0 {
		return -1
	}
	if i = skipSpace(d, i); i >= len(d) || d[i] != ':' {
		return -1
	}
	return skipSpace(d, i+1)
}

// validJSON reports whether d is one valid JSON value with optional space
// around it, as encoding/json.Valid does, in one pass.
func validJSON(d []byte) bool {
	i := skipValue(d, skipSpace(d, 0))
	return i >= 0 && skipSpace(d, i) == len(d)
}

// maxMembers is how many members of a params object the frame scan
// records (see members).
const maxMembers = 8

// member is where one member of an object lies: its key (quotes included)
// and its value, as offsets from the object's opening brace.
type member struct {
	key, keyEnd, val, valEnd uint32
}

// members are the members of a params object, recorded by the scan that
// checked it (scanObject), so that the params decoder does not walk the
// object again. ok is false when they were not recorded (more than
// maxMembers, or an object too large for the offsets): the decoder walks
// the bytes then. Bit k of keyEsc (valEsc) says that member k's key
// (string value) holds an escape.
type members struct {
	ok             bool
	n              uint8
	keyEsc, valEsc uint8
	m              [maxMembers]member
}

// scanObject is skipValue for the object that starts at d[i] (a brace),
// recording its members in ms as it checks them: one walk for both.
func scanObject(d []byte, i int, ms *members) int {
	base := i
	ms.ok, ms.n, ms.keyEsc, ms.valEsc = false, 0, 0, 0
	fits := len(d)-base <= 1<<31 // the offsets fit a uint32
	if i = skipSpace(d, i+1); i < len(d) && d[i] == '}' {
		ms.ok = fits
		return i + 1
	}
	for n := 0; ; n++ {
		if i >= len(d) || d[i] != '"' {
			return -1
		}
		keyEnd, keyEsc := skipStringEsc(d, i)
		if keyEnd < 0 {
			return -1
		}
		v := afterColon(d, keyEnd)
		if v < 0 || v >= len(d) {
			return -1
		}
		var end int
		valEsc := false
		switch c := d[v]; {
		case c == '"':
			end, valEsc = skipStringEsc(d, v)
		case c == '-' || isDigit(c):
			end = skipNumber(d, v)
		default:
			end = skipValue(d, v)
		}
		if end < 0 {
			return -1
		}
		if n < maxMembers {
			ms.m[n] = member{key: uint32(i - base), keyEnd: uint32(keyEnd - base), val: uint32(v - base), valEnd: uint32(end - base)}
			if keyEsc {
				ms.keyEsc |= 1 << n
			}
			if valEsc {
				ms.valEsc |= 1 << n
			}
		}
		if i = end; i < len(d) && isJSONSpace(d[i]) {
			i = skipSpace(d, i)
		}
		if i >= len(d) {
			return -1
		}
		if d[i] == '}' {
			ms.ok, ms.n = fits && n < maxMembers, uint8(min(n+1, maxMembers))
			return i + 1
		}
		if d[i] != ',' {
			return -1
		}
		i = skipSpace(d, i+1)
	}
}
