package main

import (
	"encoding/json"
	"unicode"
	"unicode/utf8"
)

// safe makes peer-supplied text fit to print: everything the CLI prints
// that a server (or a document) chose goes through it, so that no byte of
// it can drive the terminal (set its title, clear it, write the clipboard).
//
// For human text (asJSON false) the C0 controls except newline and tab,
// DEL, ESC and the C1 controls (U+0080–U+009F) are shown escaped, as \x1b
// or \u009b, and each byte of invalid UTF-8 as \xNN. For JSON (asJSON true,
// and b valid JSON) the same characters are written as \u00XX escapes,
// which are only legal inside strings, where JSON would carry them anyway,
// and invalid UTF-8 as \ufffd; the text stays the same JSON value. JSON
// that is not valid is escaped as human text.
//
// It returns b itself when nothing needs escaping.
func safe(b []byte, asJSON bool) []byte {
	if asJSON && !json.Valid(b) {
		asJSON = false
	}
	var out []byte // nil until the first escape
	for i := 0; i < len(b); {
		r, size := rune(b[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRune(b[i:])
		}
		if r == '\n' || !control(r) && !(r == utf8.RuneError && size == 1) {
			if out != nil {
				out = append(out, b[i:i+size]...)
			}
			i += size
			continue
		}
		if out == nil {
			out = append(make([]byte, 0, len(b)+16), b[:i]...)
		}
		if r == '\r' && asJSON { // whitespace between JSON tokens
			out = append(out, ' ')
		} else {
			out = appendControl(out, r, b[i], asJSON)
		}
		i += size
	}
	if out == nil {
		return b
	}
	return out
}

// control reports whether r is a control character, one that must never
// reach a terminal or generated code raw: the C0 controls, DEL and the C1
// controls (U+0080–U+009F), tab aside. Newline is one too; the callers that
// keep lines let it through themselves.
func control(r rune) bool {
	return r != '\t' && unicode.IsControl(r)
}

// appendControl appends the escaped form of r, a control character, or of the
// invalid byte c when r is utf8.RuneError.
func appendControl(out []byte, r rune, c byte, asJSON bool) []byte {
	const hex = "0123456789abcdef"
	switch {
	case r == utf8.RuneError && asJSON:
		return append(out, `\ufffd`...)
	case r == utf8.RuneError:
		return append(out, '\\', 'x', hex[c>>4], hex[c&15])
	case asJSON || r > 0x7f:
		return append(out, '\\', 'u', '0', '0', hex[r>>4], hex[r&15])
	}
	return append(out, '\\', 'x', hex[r>>4], hex[r&15])
}
