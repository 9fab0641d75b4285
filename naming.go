package wsrpc

import (
	"strings"
	"unicode"
)

// wireName maps a Go method name to the name callers use on the wire:
// lower snake case, with acronyms kept together. Get → get, GetData →
// get_data, HTTPStatus → http_status, UserID → user_id, Get2FA → get2_fa.
func wireName(goName string) string {
	rs := []rune(goName)
	var b strings.Builder
	b.Grow(len(goName) + 4)
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 {
				prev := rs[i-1]
				nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
				if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
					b.WriteByte('_')
				}
			}
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
