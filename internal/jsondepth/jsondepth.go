// Package jsondepth measures how deeply JSON nests, for the engine's
// MaxDepth and the openrpc package's MaxDocumentDepth: one place for the
// rule.
package jsondepth

import "bytes"

// Exceeds reports whether msg nests arrays and objects deeper than max
// (brackets inside strings do not count), in one pass over msg at most.
func Exceeds(msg []byte, max int) bool {
	// The depth never exceeds the length, nor the number of '{' and '['
	// (in strings or not), which bytes.Count finds far faster than the scan
	// below: almost every message is decided here.
	if len(msg) <= max {
		return false
	}
	if bytes.Count(msg, []byte("{"))+bytes.Count(msg, []byte("[")) <= max {
		return false
	}
	depth, inString, escaped := 0, false, false
	for _, b := range msg {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
		case b == '"':
			inString = true
		case b == '{' || b == '[':
			depth++
			if depth > max {
				return true
			}
		case b == '}' || b == ']':
			depth--
		}
	}
	return false
}
