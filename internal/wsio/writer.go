package wsio

import (
	"encoding/binary"
	"errors"
	"io"
	mrand "math/rand/v2"
	"sync"

	"github.com/gobwas/ws"
)

// ErrClosed is returned by writes after WriteClose.
var ErrClosed = errors.New("wsio: close frame already sent")

// Framer writes whole frames to a destination given with each write. It
// is safe for concurrent use: frames are written under a mutex, so a pong
// or a close never lands inside a data frame. It keeps no destination and
// no compression settings, so that a connection record embedding it stays
// small (those are the record's, or shared by many connections).
type Framer struct {
	mu     sync.Mutex
	closed bool
	// mask says that frames are masked: a client's. Masking keys only have
	// to be unpredictable to the page script of a browser (RFC 6455
	// §10.3): math/rand/v2's generator (ChaCha8, seeded by the runtime
	// from the system's randomness, per thread) is that, at a fraction of
	// crypto/rand's cost per frame, and no connection carries a generator
	// of its own (a Framer has no pointer: it is 12 bytes).
	mask bool
}

// Init makes the zero Framer one for the given side. Call it before any
// write.
func (f *Framer) Init(side Side) { f.mask = side == Client }

// Writer writes frames to one io.Writer: a Framer with its destination and
// compression. It is safe for concurrent use.
type Writer struct {
	f Framer
	w io.Writer
	// comp is set when permessage-deflate was negotiated.
	comp *Compression
}

// maxKeptWriteBuffer is the largest write buffer pooled for reuse.
const maxKeptWriteBuffer = 64 << 10

// NewWriter returns a Writer to w for the given side.
func NewWriter(w io.Writer, side Side) *Writer {
	wr := &Writer{w: w}
	wr.f.Init(side)
	return wr
}

// EnableDeflate compresses the text messages written from now on that are
// at least c.Threshold long, for a connection that negotiated
// permessage-deflate without context takeover. Call it before the first
// write.
func (w *Writer) EnableDeflate(c Compression) { w.comp = &c }

// WriteTexts writes each payload as one text frame, all in one write.
func (w *Writer) WriteTexts(payloads [][]byte) error { return w.f.WriteTexts(w.w, w.comp, payloads) }

// WritePong answers a ping.
func (w *Writer) WritePong(payload []byte) error { return w.f.WritePong(w.w, payload) }

// WritePing sends a ping.
func (w *Writer) WritePing(payload []byte) error { return w.f.WritePing(w.w, payload) }

// WriteClose sends a close frame; see Framer.WriteClose.
func (w *Writer) WriteClose(code ws.StatusCode, reason string) error {
	return w.f.WriteClose(w.w, code, reason)
}

// appendFrame appends one unfragmented frame; rsv1 marks it compressed.
func (f *Framer) appendFrame(buf []byte, op ws.OpCode, payload []byte, rsv1 bool) []byte {
	n := len(payload)
	b0 := byte(0x80) | byte(op)
	if rsv1 {
		b0 |= 0x40
	}
	var maskBit byte
	if f.mask {
		maskBit = 0x80
	}
	switch {
	case n <= 125:
		buf = append(buf, b0, maskBit|byte(n))
	case n <= 0xffff:
		buf = append(buf, b0, maskBit|126, byte(n>>8), byte(n))
	default:
		buf = append(buf, b0, maskBit|127)
		buf = binary.BigEndian.AppendUint64(buf, uint64(n))
	}
	if !f.mask {
		return append(buf, payload...)
	}
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], mrand.Uint32())
	buf = append(buf, key[:]...)
	start := len(buf)
	buf = append(buf, payload...)
	ws.Cipher(buf[start:], key, 0)
	return buf
}

// writeBufs lends frame buffers to Writers between writes, so that an idle
// connection holds none.
var writeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// writeFrames writes the frames of op with each payload to dst, in one
// write; text payloads of comp.Threshold or more are compressed when comp
// is not nil.
func (f *Framer) writeFrames(dst io.Writer, comp *Compression, op ws.OpCode, payloads ...[]byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	bp := writeBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	var scratch *[]byte
	for _, p := range payloads {
		if comp != nil && op == ws.OpText && len(p) >= comp.threshold() {
			if scratch == nil {
				scratch = writeBufs.Get().(*[]byte)
			}
			if z, ok := compress((*scratch)[:0], p, comp.level()); ok {
				*scratch = z
				buf = f.appendFrame(buf, op, z, true)
				continue
			}
		}
		buf = f.appendFrame(buf, op, p, false)
	}
	n, err := dst.Write(buf)
	if err != nil && n > 0 && n < len(buf) {
		// A frame was cut short (a write deadline): the stream is broken,
		// and a later frame, the close frame above all, would land inside
		// the cut one's payload. Nothing more is written; the connection
		// can only be dropped.
		f.closed = true
	}
	putWriteBuf(bp, buf)
	if scratch != nil {
		putWriteBuf(scratch, *scratch)
	}
	return err
}

// putWriteBuf returns a buffer to writeBufs unless it grew too large.
func putWriteBuf(bp *[]byte, buf []byte) {
	if cap(buf) <= maxKeptWriteBuffer {
		*bp = buf[:0]
		writeBufs.Put(bp)
	}
}

// WriteTexts writes each payload as one text frame to dst, all in one
// write, compressed as comp says (nil: not compressed).
func (f *Framer) WriteTexts(dst io.Writer, comp *Compression, payloads [][]byte) error {
	return f.writeFrames(dst, comp, ws.OpText, payloads...)
}

// WritePong answers a ping.
func (f *Framer) WritePong(dst io.Writer, payload []byte) error {
	return f.writeFrames(dst, nil, ws.OpPong, payload)
}

// WritePing sends a ping.
func (f *Framer) WritePing(dst io.Writer, payload []byte) error {
	return f.writeFrames(dst, nil, ws.OpPing, payload)
}

// WriteClose sends a close frame with code and reason (cut to fit the 125
// bytes of a control frame). Later writes return ErrClosed.
func (f *Framer) WriteClose(dst io.Writer, code ws.StatusCode, reason string) error {
	if len(reason) > 123 {
		reason = reason[:123]
	}
	body := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(body, uint16(code))
	body = append(body, reason...)
	if code == ws.StatusNoStatusRcvd || code == 0 {
		body = nil
	}
	err := f.writeFrames(dst, nil, ws.OpClose, body)
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return err
}
