// This file owns the wire helpers: the frame, the checks of ids and
// nesting, strings, and the encoding of replies, errors and params.

package wsrpc

//go:generate go tool easyjson -no_std_marshalers -output_filename frame_easyjson.go frame.go

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"unsafe"

	"github.com/mailru/easyjson"
	"github.com/mailru/easyjson/jlexer"
	"github.com/mailru/easyjson/jwriter"
)

// frame is one decoded wsrpc message. Every member is kept as raw JSON so the
// engine can decode params and results only once the target type is known.
// An absent member and a member whose value is null both decode to nil,
// except "method": a null method is kept as the bytes null, because a member
// "method" makes a call whatever its value (docs/protocol.md §4), and a call gets a
// reply.
//
// The slices alias the buffer the frame was decoded from: copy what must
// outlive that buffer.
type frame struct {
	ID     easyjson.RawMessage
	Method easyjson.RawMessage
	Params easyjson.RawMessage
	Result easyjson.RawMessage
	Error  easyjson.RawMessage

	members members // of Params, when it is an object (see scanObject)
}

// scan decodes the message object msg into f in one pass. Unknown members
// are skipped; a repeated member keeps its last value. Arrays and objects
// are checked as strictly as encoding/json.Valid (skipValue), so params
// need no second validation; scalars are taken as the jlexer tokenizer
// takes them (01 is a number, strings are not checked inside), since each
// is checked by whatever reads it (parseID, unquote, the params decoder).
// The members of a params object are recorded in f.members as they are
// checked.
func (f *frame) scan(msg []byte) error {
	i := skipSpace(msg, 0)
	if i >= len(msg) || msg[i] != '{' {
		return errMalformed
	}
	i = skipSpace(msg, i+1)
	if i < len(msg) && msg[i] == '}' {
		i++
	} else {
		for {
			k, next := envelopeKey(msg, i)
			if next == 0 {
				key, n, err := scanKey(msg, i)
				if err != nil {
					return err
				}
				k, next = memberOf(key), n
			} else if next = afterColon(msg, next); next < 0 {
				return errMalformed
			}
			start := next
			var end int
			switch {
			case start >= len(msg):
				return errMalformed
			case k == memberParams && msg[start] == '{':
				end = scanObject(msg, start, &f.members)
			default:
				end = skipLenient(msg, start)
			}
			if end < 0 {
				return errMalformed
			}
			v := msg[start:end:end]
			if k != memberOther {
				if k != memberMethod && string(v) == "null" {
					v = nil // a null method is the bytes null of the message
				}
				*f.member(k) = v
			}
			i = skipSpace(msg, end)
			if i >= len(msg) {
				return errMalformed
			}
			if msg[i] == '}' {
				i++
				break
			}
			if msg[i] != ',' {
				return errMalformed
			}
			i = skipSpace(msg, i+1)
		}
	}
	if skipSpace(msg, i) != len(msg) {
		return errMalformed
	}
	if f.Params == nil || f.Params[0] != '{' {
		f.members.ok = false
	}
	return nil
}

// The members of a message, as envelopeKey and memberOf name them.
const (
	memberOther = iota
	memberID
	memberMethod
	memberParams
	memberResult
	memberError
)

// member returns where the value of member k goes.
func (f *frame) member(k int) *easyjson.RawMessage {
	switch k {
	case memberID:
		return &f.ID
	case memberMethod:
		return &f.Method
	case memberParams:
		return &f.Params
	case memberResult:
		return &f.Result
	}
	return &f.Error
}

// memberOf names the member of key.
func memberOf(key string) int {
	switch key {
	case "id":
		return memberID
	case "method":
		return memberMethod
	case "params":
		return memberParams
	case "result":
		return memberResult
	case "error":
		return memberError
	}
	return memberOther
}

// envelopeKey recognizes the key at msg[i] by its bytes when it is one of
// the members a message has, spelled without escapes (as every client
// spells them), and returns it with the index after its closing quote;
// next is 0 for any other key, which scanKey reads.
func envelopeKey(msg []byte, i int) (k, next int) {
	r := msg[i:]
	switch {
	case len(r) >= 4 && string(r[:4]) == `"id"`:
		return memberID, i + 4
	case len(r) < 8:
	case string(r[:8]) == `"method"`:
		return memberMethod, i + 8
	case string(r[:8]) == `"params"`:
		return memberParams, i + 8
	case string(r[:8]) == `"result"`:
		return memberResult, i + 8
	case string(r[:7]) == `"error"`:
		return memberError, i + 7
	}
	return memberOther, 0
}

// scanKey reads the member key at msg[i] and the colon after it; next is
// where the value starts. As in jlexer, the key's end is the first quote
// not escaped, and escapes are only decoded when there are some.
func scanKey(msg []byte, i int) (key string, next int, err error) {
	if i >= len(msg) || msg[i] != '"' {
		return "", 0, errMalformed
	}
	end, escaped := stringEnd(msg, i)
	if end < 0 {
		return "", 0, errMalformed
	}
	if !escaped {
		key = unsafe.String(unsafe.SliceData(msg[i+1:]), end-i-2)
	} else if key, err = unquote(msg[i:end]); err != nil {
		return "", 0, err
	}
	if next = afterColon(msg, end); next < 0 {
		return "", 0, errMalformed
	}
	return key, next, nil
}

// afterColon returns where the value starts after the key that ends at
// msg[i]: past the colon and the space around it; -1 without a colon.
func afterColon(msg []byte, i int) int {
	if i < len(msg) && msg[i] != ':' {
		i = skipSpace(msg, i)
	}
	if i >= len(msg) || msg[i] != ':' {
		return -1
	}
	i++
	if i < len(msg) && isJSONSpace(msg[i]) {
		i = skipSpace(msg, i)
	}
	return i
}

// stringEnd returns the index after the string at msg[i] (a quote), or -1
// when it has no end: the first quote not escaped by a backslash (a
// backslash escapes the byte after it, whatever it is). escaped reports
// whether the string holds a backslash. Keys and short strings are the
// common case: a plain loop beats a search call for them.
func stringEnd(msg []byte, i int) (end int, escaped bool) {
	for j := i + 1; j < len(msg); j++ {
		switch msg[j] {
		case '"':
			return j + 1, escaped
		case '\\':
			escaped = true
			j++
		}
	}
	return -1, escaped
}

// skipLenient returns the index after the member value at msg[i]: arrays
// and objects strictly (skipValue), scalars as jlexer tokenizes them.
func skipLenient(msg []byte, i int) int {
	if i >= len(msg) {
		return -1
	}
	var end int
	switch c := msg[i]; {
	case c == '{' || c == '[':
		return skipValue(msg, i)
	case c == '"':
		end, _ := stringEnd(msg, i)
		return end
	case c == '-' || isDigit(c):
		// jlexer's number token: digits, one dot, one exponent with a sign.
		hasE, afterE, hasDot := false, false, false
	number:
		for end = i + 1; end < len(msg); end++ {
			switch c := msg[end]; {
			case isDigit(c):
				afterE = false
				continue
			case c == '.' && !hasDot:
				hasDot = true
				continue
			case (c == 'e' || c == 'E') && !hasE:
				hasE, hasDot, afterE = true, true, true
				continue
			case (c == '+' || c == '-') && afterE:
				afterE = false
				continue
			}
			break number
		}
	case c == 't':
		end = skipLiteral(msg, i, "true")
	case c == 'f':
		end = skipLiteral(msg, i, "false")
	case c == 'n':
		end = skipLiteral(msg, i, "null")
	default:
		return -1
	}
	if end < 0 || end < len(msg) && !isTokenEnd(msg[end]) {
		return -1
	}
	return end
}

// wireError is the error member of a reply as the reference sends it.
//
//easyjson:json
type wireError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

func isObject(msg []byte) bool {
	for _, b := range msg {
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return true
		default:
			return false
		}
	}
	return false
}

// parseID reads a call id: a JSON integer (true counts as 1, as in Python).
// key is its value when it fits an int64; fits is false for larger integers,
// which are still valid ids (they are echoed verbatim).
func parseID(raw []byte) (key int64, fits, ok bool) {
	switch string(raw) {
	case "true":
		return 1, true, true
	case "false":
		return 0, true, true
	}
	if len(raw) == 0 {
		return 0, false, false
	}
	digits := raw
	if digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 1 && digits[0] == '0' {
		return 0, false, false // JSON has no leading zeros
	}
	var n int64 // 18 digits fit an int64
	for _, b := range digits {
		if b < '0' || b > '9' {
			return 0, false, false
		}
		n = n*10 + int64(b-'0') // overflows past 18 digits: not used then
	}
	if len(digits) > 18 {
		n, err := strconv.ParseInt(unsafe.String(&raw[0], len(raw)), 10, 64)
		if err != nil {
			// An integer beyond int64: valid, but it cannot be one of ours
			// and it cannot be zero.
			return 0, false, true
		}
		return n, true, true
	}
	if raw[0] == '-' {
		n = -n
	}
	return n, true, true
}

// rebase returns the part of dst at the offset s has in src.
func rebase(s, src, dst []byte) []byte {
	if s == nil {
		return nil
	}
	if len(s) == 0 {
		return dst[:0:0]
	}
	off := uintptr(unsafe.Pointer(unsafe.SliceData(s))) - uintptr(unsafe.Pointer(unsafe.SliceData(src)))
	return dst[off : off+uintptr(len(s)) : off+uintptr(len(s))]
}

// unquoteOwned is unquote for bytes that are never modified again: the
// string shares them.
func unquoteOwned(raw []byte) (string, error) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		inner := raw[1 : len(raw)-1]
		if len(inner) > 0 && simpleString(inner) {
			return unsafe.String(&inner[0], len(inner)), nil
		}
	}
	return unquote(raw)
}

func simpleString(b []byte) bool {
	for _, c := range b {
		if c == '\\' || c == '"' || c < 0x20 {
			return false
		}
	}
	return true
}

// unquote returns the string a raw JSON string holds.
func unquote(raw []byte) (string, error) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		if inner := raw[1 : len(raw)-1]; simpleString(inner) {
			return string(inner), nil
		}
	}
	l := jlexer.Lexer{Data: raw}
	s := l.String()
	l.Consumed()
	return s, l.Error()
}

// resultOf returns the result member of an encoded success reply.
func resultOf(reply []byte) []byte {
	const prefix = `,"result":`
	for i := 0; i+len(prefix) <= len(reply); i++ {
		if string(reply[i:i+len(prefix)]) == prefix {
			return reply[i+len(prefix) : len(reply)-1]
		}
	}
	return nil
}

// errorTypeMessage maps a handler error to the wire's type and message.
func errorTypeMessage(err error) (string, string) {
	var e *Error
	var pe *panicError
	switch {
	case errors.As(err, &e):
		return e.Type, e.Message
	case errors.As(err, &pe):
		return TypeRuntimeError, panicReply(pe.what)
	case errors.Is(err, context.DeadlineExceeded):
		return TypeTimeoutError, ""
	case errors.Is(err, context.Canceled):
		return TypeCancelledError, ""
	}
	return TypeException, err.Error()
}

func appendErrorReply(dst, id []byte, typ, message string) []byte {
	var w jwriter.Writer
	w.Buffer.Buf = dst[:0]
	appendErrorReplyTo(&w, id, typ, message)
	out, _ := w.BuildBytes()
	return out
}

func appendErrorReplyTo(w *jwriter.Writer, id []byte, typ, message string) {
	w.RawString(`{"id":`)
	w.Raw(id, nil)
	w.RawString(`,"error":{"type":`)
	w.String(typ)
	w.RawString(`,"message":`)
	w.String(message)
	w.RawString(`}}`)
}

var nullJSON = []byte("null")

// remoteError turns the error member of a reply into an *Error: an object
// gives its type and message; any other value (the JS client's string
// "Route not found", say) becomes the message.
func remoteError(raw []byte) *Error {
	e := &Error{Raw: append(json.RawMessage(nil), raw...)}
	if raw[0] == '{' {
		var we wireError
		l := jlexer.Lexer{Data: raw}
		we.UnmarshalEasyJSON(&l)
		if l.Error() == nil {
			e.Type, e.Message = we.Type, we.Message
			return e
		}
	}
	if raw[0] == '"' {
		if s, err := unquote(raw); err == nil {
			e.Message = s
			return e
		}
	}
	e.Message = string(raw)
	return e
}

// appendJSON encodes v: raw JSON verbatim, easyjson marshalers directly,
// anything else with encoding/json.
func appendJSON(w *jwriter.Writer, v any) error {
	switch v := v.(type) {
	case json.RawMessage:
		if !validJSON(v) {
			return errors.New("raw params are not valid JSON")
		}
		w.Raw(v, nil)
	case easyjson.RawMessage:
		if !validJSON(v) {
			return errors.New("raw params are not valid JSON")
		}
		w.Raw(v, nil)
	case easyjson.Marshaler:
		v.MarshalEasyJSON(w)
		return w.Error
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		w.Raw(b, nil)
	}
	return nil
}
