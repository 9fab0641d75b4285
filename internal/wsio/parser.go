// Package wsio reads and writes WebSocket messages (RFC 6455) over a byte
// stream, for both ends of a connection. The Parser is incremental: it is fed
// whatever bytes arrived and never blocks, so an epoll loop and a
// goroutine-per-connection Reader share the same frame rules.
package wsio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// Side says which end we are: a server expects masked frames and sends
// unmasked ones; a client the reverse.
type Side int

// The two sides.
const (
	Server Side = iota
	Client
)

// DefaultMaxMessageSize is the default limit of one message after
// reassembly: 4 MiB, as the reference.
const DefaultMaxMessageSize = 4 << 20

// Limits bound what a peer can make us hold. Zero fields take the defaults.
type Limits struct {
	// MaxMessageSize is the largest message (after reassembly of fragments).
	// A larger one is refused from its frame header, before its payload is
	// read, with close code 1009. Default DefaultMaxMessageSize.
	MaxMessageSize int64
}

func (l Limits) maxMessage() int64 {
	if l.MaxMessageSize <= 0 {
		return DefaultMaxMessageSize
	}
	return l.MaxMessageSize
}

// CloseError ends a connection: the peer sent a close frame (Remote, with
// its code and reason; 1005 when the frame had no body), or it broke the
// protocol (not Remote; Code is what to send back: 1002, 1007 or 1009).
type CloseError struct {
	Code   ws.StatusCode
	Reason string
	Remote bool
}

func (e *CloseError) Error() string {
	if e.Remote {
		return fmt.Sprintf("websocket: peer closed with code %d %q", e.Code, e.Reason)
	}
	return fmt.Sprintf("websocket: protocol error, closing with code %d: %s", e.Code, e.Reason)
}

func protocolError(code ws.StatusCode, reason string) *CloseError {
	return &CloseError{Code: code, Reason: reason}
}

// Parser is an incremental message parser. Feed it bytes as they arrive,
// then call Next until it reports that it needs more. Not safe for
// concurrent use.
type Parser struct {
	side   Side
	max    int64
	onPing PingHandler
	retain bool // keep buffers between messages (Reader) or drop them (epoll)

	buf      []byte // received, unconsumed bytes start at off
	off      int
	borrowed bool // buf is the caller's slice (see Feed and Detach)

	inMsg   bool
	msgText bool
	msg     []byte // fragments so far

	deflate     bool    // permessage-deflate was negotiated
	msgDeflated bool    // the message being reassembled is compressed
	inflated    *[]byte // the last inflated message; pooled unless retain
}

// NewParser returns a parser for the given side.
func NewParser(side Side, limits Limits) *Parser {
	return &Parser{side: side, max: limits.maxMessage()}
}

// EnableDeflate accepts compressed messages (RSV1 set on their first frame),
// for a connection that negotiated permessage-deflate without context
// takeover. Inflated messages are bounded by the same MaxMessageSize.
func (p *Parser) EnableDeflate() { p.deflate = true }

// SetControlHandler sets the function called with the payload of each ping;
// the caller answers it with a pong. The payload is only valid during the
// call.
func (p *Parser) SetControlHandler(onPing func(payload []byte)) {
	if onPing == nil {
		p.onPing = nil
		return
	}
	p.onPing = PingFunc(onPing)
}

// PingHandler answers pings; see SetPingHandler.
type PingHandler interface {
	// OnPing is called with the payload of each ping, valid only during
	// the call.
	OnPing(payload []byte)
}

// PingFunc is a function as a PingHandler.
type PingFunc func(payload []byte)

// OnPing calls f.
func (f PingFunc) OnPing(payload []byte) { f(payload) }

// SetPingHandler is SetControlHandler with an interface, which a
// connection can implement itself: setting it allocates nothing.
func (p *Parser) SetPingHandler(h PingHandler) { p.onPing = h }

// Reset makes p a new parser for side and limits, keeping nothing of what it
// parsed (for parsers reused from a pool).
func (p *Parser) Reset(side Side, limits Limits) {
	p.releaseInflated()
	*p = Parser{side: side, max: limits.maxMessage()}
}

// Idle reports whether p holds nothing between messages: no partial frame,
// no unfinished fragmented message and no borrowed input. An idle parser
// can be Reset and reused by another connection.
func (p *Parser) Idle() bool {
	return !p.borrowed && p.off == len(p.buf) && !p.inMsg && p.inflated == nil
}

// Feed appends received bytes. It invalidates the payload Next returned last.
//
// When the parser holds nothing, it parses b in place instead of copying it:
// b is then unmasked in place and must stay untouched until Detach, which
// copies whatever is left unparsed (a partial frame) into the parser's own
// storage. Call Detach before reusing b.
func (p *Parser) Feed(b []byte) {
	p.Detach()
	if p.off == len(p.buf) && !p.retain {
		p.buf, p.off, p.borrowed = b, 0, true
		return
	}
	p.compact()
	p.buf = append(p.buf, b...)
}

// Detach stops the parser from referring to the slice given to Feed,
// keeping a copy of its unparsed rest. The payloads Next returned are
// invalid afterwards.
func (p *Parser) Detach() {
	p.releaseInflated()
	if !p.borrowed {
		return
	}
	p.borrowed = false
	rest := p.buf[p.off:]
	p.off = 0
	if len(rest) == 0 {
		p.buf = nil
		return
	}
	p.buf = append([]byte(nil), rest...)
}

// Buffered returns how many bytes the parser holds: unparsed input and
// unfinished fragmented messages.
func (p *Parser) Buffered() int { return len(p.buf) - p.off + len(p.msg) }

// compact drops consumed bytes, releasing the buffers of an idle parser.
func (p *Parser) compact() {
	if p.off == 0 {
		return
	}
	n := copy(p.buf, p.buf[p.off:])
	p.buf = p.buf[:n]
	p.off = 0
	if n == 0 && !p.retain {
		p.buf = nil
	}
}

// Need returns how many more bytes the frame being parsed needs: 0 when
// the parser holds no partial frame, or a complete one (or an error) that
// Next will report. Large values mean a big frame is under way: ReadSome
// it straight into the parser.
func (p *Parser) Need() int {
	if p.off == len(p.buf) {
		return 0
	}
	return p.need()
}

// Ready reports whether Next has something to report: a complete frame,
// or an error. false means the parser needs more bytes first.
func (p *Parser) Ready() bool { return p.off < len(p.buf) && p.need() == 0 }

// ReadSome reads once from r into the parser's own buffer, with room for
// up to want more bytes (a copy saved for big frames). It returns r's error
// only when nothing was read.
//
// The room follows what arrived, not what a frame header claims: the
// buffer at most doubles what it holds (and grows by MinGrow at least), so
// a header announcing megabytes reserves a few kilobytes until the payload
// actually comes.
func (p *Parser) ReadSome(r io.Reader, want int) error {
	p.Detach()
	return p.readFrom(r, want)
}

// MinGrow is the least a read buffer grows by for a frame under way.
const MinGrow = 4096

// readFrom reads once from r into the parser's buffer (the Reader's path,
// which saves a copy).
func (p *Parser) readFrom(r io.Reader, want int) error {
	p.compact()
	want = min(want, max(len(p.buf), MinGrow))
	if want < 1 {
		want = 1
	}
	if cap(p.buf)-len(p.buf) < want {
		nb := make([]byte, len(p.buf), len(p.buf)+want)
		copy(nb, p.buf)
		p.buf = nb
	}
	n, err := r.Read(p.buf[len(p.buf):cap(p.buf)])
	p.buf = p.buf[:len(p.buf)+n]
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// header is a parsed frame header.
type header struct {
	fin    bool
	rsv1   bool // "compressed" under permessage-deflate
	op     ws.OpCode
	masked bool
	mask   [4]byte
	length int64
	size   int // header bytes
}

// parseHeader reads a frame header from b; ok is false when b is too short.
func parseHeader(b []byte) (h header, ok bool, err error) {
	if len(b) < 2 {
		return h, false, nil
	}
	h.fin = b[0]&0x80 != 0
	if b[0]&0x30 != 0 {
		return h, false, protocolError(ws.StatusProtocolError, "RSV2 or RSV3 set without a negotiated extension")
	}
	h.rsv1 = b[0]&0x40 != 0
	h.op = ws.OpCode(b[0] & 0x0f)
	h.masked = b[1]&0x80 != 0
	n := int64(b[1] & 0x7f)
	h.size = 2
	switch n {
	case 126:
		if len(b) < 4 {
			return h, false, nil
		}
		n = int64(binary.BigEndian.Uint16(b[2:4]))
		h.size = 4
	case 127:
		if len(b) < 10 {
			return h, false, nil
		}
		u := binary.BigEndian.Uint64(b[2:10])
		if u>>63 != 0 {
			return h, false, protocolError(ws.StatusProtocolError, "frame length has its most significant bit set")
		}
		n = int64(u)
		h.size = 10
	}
	h.length = n
	if h.masked {
		if len(b) < h.size+4 {
			return h, false, nil
		}
		copy(h.mask[:], b[h.size:h.size+4])
		h.size += 4
	}
	return h, true, nil
}

// check applies the frame rules that do not need the payload.
func (p *Parser) check(h header) error {
	switch {
	case h.op.IsReserved():
		return protocolError(ws.StatusProtocolError, fmt.Sprintf("reserved opcode %d", h.op))
	case h.op.IsControl() && (!h.fin || h.length > 125):
		return protocolError(ws.StatusProtocolError, "control frames must be unfragmented and at most 125 bytes")
	case p.side == Server && !h.masked:
		return protocolError(ws.StatusProtocolError, "client frames must be masked")
	case p.side == Client && h.masked:
		return protocolError(ws.StatusProtocolError, "server frames must not be masked")
	case h.rsv1 && !p.deflate:
		return protocolError(ws.StatusProtocolError, "RSV1 set without a negotiated extension")
	case h.rsv1 && (h.op.IsControl() || h.op == ws.OpContinuation):
		return protocolError(ws.StatusProtocolError, "RSV1 set on a control frame or a continuation")
	case h.op == ws.OpContinuation && !p.inMsg:
		return protocolError(ws.StatusProtocolError, "continuation frame without a message to continue")
	case (h.op == ws.OpText || h.op == ws.OpBinary) && p.inMsg:
		return protocolError(ws.StatusProtocolError, "new message before the fragmented one finished")
	}
	if !h.op.IsControl() {
		// The length is the peer's: it is compared with what is left of
		// the limit, never added to what was buffered (which could wrap).
		left := p.max
		if h.op == ws.OpContinuation {
			left -= int64(len(p.msg)) // len(p.msg) <= p.max: checked frame by frame
		}
		if h.length > left {
			return protocolError(ws.StatusMessageTooBig, fmt.Sprintf("message larger than %d bytes", p.max))
		}
	}
	return nil
}

// missing returns how many payload bytes of the frame with header h are
// not in b yet (b starts with that header).
func missing(h header, b []byte) int64 {
	if have := int64(len(b) - h.size); h.length > have {
		return h.length - have
	}
	return 0
}

// need returns how many more bytes the next frame needs (0 when it is
// complete or the parser has an error to report).
func (p *Parser) need() int {
	b := p.buf[p.off:]
	h, ok, err := parseHeader(b)
	if err != nil {
		return 0
	}
	if !ok {
		return 14
	}
	if p.check(h) != nil {
		return 0
	}
	return int(min(missing(h, b), maxInt))
}

// maxInt is the largest int (2^31-1 on 32-bit platforms).
const maxInt = int64(^uint(0) >> 1)

// Next returns the next complete data message. ok is false with a nil error
// when more bytes are needed. The payload is valid until the next call of
// Next or Feed. Errors are *CloseError (protocol violations, the peer's
// close) and are final.
func (p *Parser) Next() (text bool, payload []byte, ok bool, err error) {
	p.releaseInflated()
	for {
		b := p.buf[p.off:]
		h, complete, err := parseHeader(b)
		if err != nil {
			return false, nil, false, err
		}
		if !complete {
			p.release()
			return false, nil, false, nil
		}
		if err := p.check(h); err != nil {
			return false, nil, false, err
		}
		if missing(h, b) > 0 {
			return false, nil, false, nil
		}
		end := h.size + int(h.length) // both within len(b)
		data := b[h.size:end]
		ascii := false
		if h.masked {
			ascii = unmask(data, h.mask)
		}
		p.off += end

		switch h.op {
		case ws.OpPing:
			if p.onPing != nil {
				p.onPing.OnPing(data)
			}
			continue
		case ws.OpPong:
			continue
		case ws.OpClose:
			return false, nil, false, parseClose(data)
		case ws.OpText, ws.OpBinary:
			if h.fin {
				return p.deliver(h.op == ws.OpText, data, h.rsv1, ascii)
			}
			p.inMsg, p.msgText, p.msgDeflated = true, h.op == ws.OpText, h.rsv1
			p.msg = append(p.msg[:0], data...)
		case ws.OpContinuation:
			p.msg = append(p.msg, data...)
			if h.fin {
				p.inMsg = false
				text, payload, ok, err := p.deliver(p.msgText, p.msg, p.msgDeflated, false)
				if !p.retain {
					p.msg = nil
				} else {
					p.msg = p.msg[:0]
				}
				return text, payload, ok, err
			}
		}
	}
}

// release drops the input buffer of an idle parser when nothing is pending.
func (p *Parser) release() {
	if !p.retain && !p.borrowed && p.off == len(p.buf) {
		p.buf, p.off = nil, 0
	}
}

// deliver hands out one whole message; ascii says data (as received, before
// any inflating) was found all ASCII while it was unmasked.
func (p *Parser) deliver(text bool, data []byte, compressed, ascii bool) (bool, []byte, bool, error) {
	if compressed {
		if p.inflated == nil {
			p.inflated = inflateBufs.Get().(*[]byte)
		}
		out, err := inflate((*p.inflated)[:0], data, p.max)
		*p.inflated = out
		if err != nil {
			return false, nil, false, err
		}
		data, ascii = out, false
	}
	if text && !validText(data, ascii) {
		return false, nil, false, protocolError(ws.StatusInvalidFramePayloadData, "text message is not valid UTF-8")
	}
	return text, data, true, nil
}

// inflateBufs lends buffers for inflated messages to parsers.
var inflateBufs = sync.Pool{New: func() any { return new([]byte) }}

// releaseInflated gives the last inflated message's buffer back: no
// connection keeps one between messages.
func (p *Parser) releaseInflated() {
	if p.inflated == nil {
		return
	}
	if cap(*p.inflated) <= maxRetained {
		*p.inflated = (*p.inflated)[:0]
		inflateBufs.Put(p.inflated)
	}
	p.inflated = nil
}

func parseClose(data []byte) error {
	if len(data) == 0 {
		return &CloseError{Code: ws.StatusNoStatusRcvd, Remote: true}
	}
	if len(data) == 1 {
		return protocolError(ws.StatusProtocolError, "close frame with a 1-byte body")
	}
	code := ws.StatusCode(binary.BigEndian.Uint16(data))
	reason := data[2:]
	if !utf8.Valid(reason) {
		return protocolError(ws.StatusInvalidFramePayloadData, "close reason is not valid UTF-8")
	}
	if !validCloseCode(code) {
		return protocolError(ws.StatusProtocolError, fmt.Sprintf("invalid close code %d", code))
	}
	return &CloseError{Code: code, Reason: string(reason), Remote: true}
}

func validCloseCode(c ws.StatusCode) bool {
	switch {
	case c >= 1000 && c <= 1003, c >= 1007 && c <= 1014, c >= 3000 && c <= 4999:
		return true
	}
	return false
}

// Reader reads messages from a stream, one at a time. Not safe for
// concurrent use.
type Reader struct {
	r io.Reader
	p *Parser
}

// NewReader returns a Reader of r for the given side.
func NewReader(r io.Reader, side Side, limits Limits) *Reader {
	p := NewParser(side, limits)
	p.retain = true
	return &Reader{r: r, p: p}
}

// EnableDeflate accepts compressed messages; see Parser.EnableDeflate.
func (r *Reader) EnableDeflate() { r.p.EnableDeflate() }

// SetControlHandler sets the function called with each ping's payload.
func (r *Reader) SetControlHandler(onPing func(payload []byte)) { r.p.SetControlHandler(onPing) }

// Buffered returns how many received bytes wait to be parsed: when it is 0,
// the next ReadMessage will wait for the network.
func (r *Reader) Buffered() int { return r.p.Buffered() }

// maxRetained is the buffer size a Reader keeps between messages; a larger
// buffer, grown for one big message, is dropped after it.
const maxRetained = 64 << 10

// ReadMessage returns the next data message; text is false for binary.
// The payload is valid until the next call. Errors: *CloseError, or the
// stream's own (io.EOF, io.ErrUnexpectedEOF for a truncated frame).
func (r *Reader) ReadMessage() (text bool, payload []byte, err error) {
	p := r.p
	if cap(p.buf) > maxRetained && p.off == len(p.buf) {
		p.buf, p.off = nil, 0
	}
	if cap(p.msg) > maxRetained {
		p.msg = nil
	}
	for {
		text, payload, ok, err := p.Next()
		if err != nil || ok {
			return text, payload, err
		}
		// Small reads for small messages: an idle connection's reader keeps
		// this buffer, so it starts small and grows for big frames only.
		want := p.need()
		if want < 512 {
			want = 512
		}
		if err := p.readFrom(r.r, want); err != nil {
			if errors.Is(err, io.EOF) && p.Buffered() > 0 {
				err = io.ErrUnexpectedEOF
			}
			return false, nil, err
		}
	}
}
