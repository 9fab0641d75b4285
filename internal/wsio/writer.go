package wsio

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	mrand "math/rand/v2"
	"sync"

	"github.com/gobwas/ws"
)

// ErrClosed is returned by writes after WriteClose.
var ErrClosed = errors.New("wsio: close frame already sent")

// Writer writes frames. It is safe for concurrent use: whole frames are
// written under a mutex, so a pong or a close never lands inside a data
// frame.
type Writer struct {
	mu     sync.Mutex
	w      io.Writer
	side   Side
	closed bool
	// Masking keys only have to be unpredictable to the page script of a
	// browser (RFC 6455 §10.3); a ChaCha8 stream seeded from crypto/rand is
	// that, at a fraction of crypto/rand's cost per frame.
	rng *mrand.ChaCha8
	// comp is set when permessage-deflate was negotiated.
	comp *Compression
}

// maxKeptWriteBuffer is the largest write buffer pooled for reuse.
const maxKeptWriteBuffer = 64 << 10

// NewWriter returns a Writer to w for the given side.
func NewWriter(w io.Writer, side Side) *Writer {
	wr := new(Writer)
	wr.Init(w, side)
	return wr
}

// Init makes the zero Writer a Writer to w for the given side, for a
// Writer kept inside another structure. Call it before any write.
func (wr *Writer) Init(w io.Writer, side Side) {
	wr.w, wr.side = w, side
	if side == Client {
		var seed [32]byte
		_, _ = rand.Read(seed[:])
		wr.rng = mrand.NewChaCha8(seed)
	}
}

// EnableDeflate compresses the text messages written from now on that are
// at least c.Threshold long, for a connection that negotiated
// permessage-deflate without context takeover. Call it before the first
// write.
func (w *Writer) EnableDeflate(c Compression) {
	c.Threshold, c.Level = c.threshold(), c.level()
	w.comp = &c
}

// appendFrame appends one unfragmented frame; rsv1 marks it compressed.
func (w *Writer) appendFrame(buf []byte, op ws.OpCode, payload []byte, rsv1 bool) []byte {
	n := len(payload)
	b0 := byte(0x80) | byte(op)
	if rsv1 {
		b0 |= 0x40
	}
	var maskBit byte
	if w.side == Client {
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
	if w.side != Client {
		return append(buf, payload...)
	}
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], uint32(w.rng.Uint64()))
	buf = append(buf, key[:]...)
	start := len(buf)
	buf = append(buf, payload...)
	ws.Cipher(buf[start:], key, 0)
	return buf
}

// writeBufs lends frame buffers to Writers between writes, so that an idle
// connection holds none.
var writeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// writeFrames writes the frames of op with each payload, in one write.
func (w *Writer) writeFrames(op ws.OpCode, payloads ...[]byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	bp := writeBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	var scratch *[]byte
	for _, p := range payloads {
		if c := w.comp; c != nil && op == ws.OpText && len(p) >= c.Threshold {
			if scratch == nil {
				scratch = writeBufs.Get().(*[]byte)
			}
			if z, ok := compress((*scratch)[:0], p, c.Level); ok {
				*scratch = z
				buf = w.appendFrame(buf, op, z, true)
				continue
			}
		}
		buf = w.appendFrame(buf, op, p, false)
	}
	_, err := w.w.Write(buf)
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

// WriteTexts writes each payload as one text frame, all in one write.
func (w *Writer) WriteTexts(payloads [][]byte) error {
	return w.writeFrames(ws.OpText, payloads...)
}

// WritePong answers a ping.
func (w *Writer) WritePong(payload []byte) error {
	return w.writeFrames(ws.OpPong, payload)
}

// WritePing sends a ping.
func (w *Writer) WritePing(payload []byte) error {
	return w.writeFrames(ws.OpPing, payload)
}

// WriteClose sends a close frame with code and reason (cut to fit the 125
// bytes of a control frame). Later writes return ErrClosed.
func (w *Writer) WriteClose(code ws.StatusCode, reason string) error {
	if len(reason) > 123 {
		reason = reason[:123]
	}
	body := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(body, uint16(code))
	body = append(body, reason...)
	if code == ws.StatusNoStatusRcvd || code == 0 {
		body = nil
	}
	err := w.writeFrames(ws.OpClose, body)
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	return err
}
