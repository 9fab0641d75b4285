package wsrpc

import (
	"strings"
	"unicode"
)

// wireName maps a Go method name to the member name callers use on the wire:
// lower snake case, the Python convention of the reference implementation.
//
// A word starts at an upper-case letter that follows a lower-case letter or a
// digit, and at the last upper-case letter of a run that is followed by a
// lower-case letter (so acronyms stay together). Digits stay with the word
// before them. Underscores are kept and never doubled.
//
//	Get          → get
//	GetData      → get_data
//	HTTPStatus   → http_status
//	UserID       → user_id
//	MD5Sum       → md5_sum
//	Base64Encode → base64_encode
//	Get2FA       → get2_fa
//	Get_Data     → get_data
//
// A struct route can choose any other wire name with the methods tag
// (methods:"Get2FA=get_2fa").
func wireName(goName string) string {
	rs := []rune(goName)
	var b strings.Builder
	b.Grow(len(goName) + 4)
	for i, r := range rs {
		if !unicode.IsUpper(r) {
			b.WriteRune(r)
			continue
		}
		if i > 0 && rs[i-1] != '_' {
			prev := rs[i-1]
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}
