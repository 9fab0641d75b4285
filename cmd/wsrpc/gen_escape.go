package main

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
)

// Text from a document reaches generated code only through these
// functions (or as an identifier pascal made, or strconv.Quote in Go): as a
// string literal, or as the text of a comment. Either way no character of
// it can end the literal or the comment, start a line of code, reach a
// terminal or an editor as a control, or reorder how the code reads.

// hidden reports whether r must not appear raw in generated code: the
// controls (see control), format characters (bidirectional
// overrides, zero-width characters, the byte order mark, which Go refuses
// in the middle of a file), and U+2028/U+2029, which end a line in
// JavaScript.
func hidden(r rune) bool {
	return control(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029'
}

// escapeRune writes r as JavaScript writes it in a string: \uXXXX, a
// surrogate pair beyond the basic plane.
func escapeRune(b *strings.Builder, r rune) {
	if r > 0xFFFF {
		hi, lo := utf16.EncodeRune(r)
		fmt.Fprintf(b, `\u%04x\u%04x`, hi, lo)
		return
	}
	fmt.Fprintf(b, `\u%04x`, r)
}

// commentText is s with every hidden character written as \uXXXX; lines
// end at "\n" only (a "\r" before one is dropped).
func commentText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	if strings.IndexFunc(s, func(r rune) bool { return r != '\n' && hidden(r) }) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r != '\n' && hidden(r) {
			escapeRune(&b, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// tsQuote is a TypeScript string literal of s: JSON's escapes, plus \uXXXX
// for every hidden character (C1 controls, U+2028/U+2029, bidi overrides)
// and for <, > and &, so that "</script>" and "<!--" cannot end or bend an
// inline script.
func tsQuote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '<' || r == '>' || r == '&' || hidden(r):
			escapeRune(&b, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// tsDocText makes text safe inside a /* comment */: hidden characters
// escaped, and neither "*/" nor "</script" nor "<!--" left whole.
func tsDocText(s string) string {
	s = commentText(s)
	s = strings.ReplaceAll(s, "*/", `*\/`)
	s = strings.ReplaceAll(s, "</", `<\/`)
	return strings.ReplaceAll(s, "<!--", `<\!--`)
}
