package wsio

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
)

// permessage-deflate (RFC 7692), always without context takeover in both
// directions: every message is compressed and inflated on its own, so a
// connection keeps no compressor or inflater between messages (they are
// pooled), and an idle connection costs nothing more with compression on.

// Compression says how a Writer compresses the messages it sends once
// permessage-deflate was negotiated. The zero value compresses messages of
// DefaultCompressionThreshold bytes or more with flate.BestSpeed.
type Compression struct {
	// Threshold is the smallest message compressed; shorter ones are sent as
	// they are (compressing a short JSON reply costs more than it saves).
	// 0 means DefaultCompressionThreshold.
	Threshold int
	// Level is a compress/flate level; 0 means flate.BestSpeed.
	Level int
}

// DefaultCompressionThreshold is the default Compression.Threshold.
const DefaultCompressionThreshold = 512

func (c Compression) threshold() int {
	if c.Threshold <= 0 {
		return DefaultCompressionThreshold
	}
	return c.Threshold
}

func (c Compression) level() int {
	if c.Level == 0 || c.Level < flate.HuffmanOnly || c.Level > flate.BestCompression {
		return flate.BestSpeed
	}
	return c.Level
}

// ExtensionHeader is the name of the handshake header that negotiates
// extensions.
const ExtensionHeader = "Sec-WebSocket-Extensions"

// deflateResponse is what a server answers to an offer it accepts: neither
// side keeps its compression context between messages.
const deflateResponse = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

// ClientOffer is the Sec-WebSocket-Extensions value a client sends to ask
// for permessage-deflate without context takeover.
const ClientOffer = deflateResponse

// ClientOfferOption is ClientOffer as a parsed header option, for dialers
// that take options.
func ClientOfferOption() httphead.Option {
	return wsflate.Parameters{ServerNoContextTakeover: true, ClientNoContextTakeover: true}.Option()
}

// NegotiateDeflate reads a client's Sec-WebSocket-Extensions header values
// and returns the value to answer with, or "" to decline (then no extension
// is used). It accepts the first permessage-deflate offer it can honour:
// Go's compress/flate always uses a 32 KiB window, so an offer that limits
// the server's window below that is declined, as are malformed offers.
// Whatever the client asked, the answer disables context takeover both ways
// (RFC 7692 §7.1.1 lets a server add client_no_context_takeover).
func NegotiateDeflate(values []string) string {
	for _, v := range values {
		opts, ok := httphead.ParseOptions([]byte(v), nil)
		if !ok {
			continue
		}
		for _, opt := range opts {
			if !strings.EqualFold(string(opt.Name), wsflate.ExtensionName) {
				continue
			}
			var p wsflate.Parameters
			if err := p.Parse(opt); err != nil {
				continue
			}
			switch {
			case p.ServerMaxWindowBits == 0:
				return deflateResponse
			case p.ServerMaxWindowBits == 15:
				// Accepting the parameter means echoing it (§7.1.2.1).
				return deflateResponse + "; server_max_window_bits=15"
			}
		}
	}
	return ""
}

// ErrDeflateResponse is returned by CheckDeflateResponse for a server's
// answer this client cannot work with.
var ErrDeflateResponse = errors.New("wsio: the server's permessage-deflate parameters are not what was offered")

// CheckDeflateResponse reads the extensions a server accepted in answer to
// ClientOffer and reports whether permessage-deflate is on.
func CheckDeflateResponse(accepted []httphead.Option) (bool, error) {
	for _, opt := range accepted {
		if !strings.EqualFold(string(opt.Name), wsflate.ExtensionName) {
			return false, fmt.Errorf("%w: unexpected extension %q", ErrDeflateResponse, opt.Name)
		}
		var p wsflate.Parameters
		if err := p.Parse(opt); err != nil {
			return false, fmt.Errorf("%w: %v", ErrDeflateResponse, err)
		}
		// We offered server_no_context_takeover: a server that accepts must
		// say so (§7.1.1.1). We did not offer client_max_window_bits, so a
		// server must not limit our window (§7.1.2.2).
		if !p.ServerNoContextTakeover || (p.ClientMaxWindowBits.Defined() && p.ClientMaxWindowBits != 15) {
			return false, ErrDeflateResponse
		}
		return true, nil
	}
	return false, nil
}

// deflateTail ends every compressed message on the way in: the 4 bytes the
// sender stripped (§7.2.2) and an empty final block, so that the inflater
// reaches a clean end of stream.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// inflater reads a compressed message followed by deflateTail. It is a
// ByteReader, so flate reads it without a bufio.Reader of its own.
type inflater struct {
	src, tail bytes.Reader
	fr        io.ReadCloser
}

func (in *inflater) Read(b []byte) (int, error) {
	if in.src.Len() > 0 {
		return in.src.Read(b)
	}
	return in.tail.Read(b)
}

func (in *inflater) ReadByte() (byte, error) {
	if in.src.Len() > 0 {
		return in.src.ReadByte()
	}
	return in.tail.ReadByte()
}

// inflaters holds inflaters (each with flate's 32 KiB window) between
// messages.
var inflaters = sync.Pool{New: func() any { return new(inflater) }}

// inflate appends the inflated form of compressed to dst. It stops, with
// close code 1009, as soon as the output would exceed limit bytes: a small
// message that inflates to gigabytes costs at most limit bytes of memory.
func inflate(dst, compressed []byte, limit int64) ([]byte, error) {
	in := inflaters.Get().(*inflater)
	defer inflaters.Put(in)
	in.src.Reset(compressed)
	in.tail.Reset(deflateTail)
	if in.fr == nil {
		in.fr = flate.NewReader(in)
	} else if err := in.fr.(flate.Resetter).Reset(in, nil); err != nil {
		return dst, protocolError(ws.StatusInvalidFramePayloadData, "invalid compressed message")
	}
	// Every count is compared with what is left of limit, never added to
	// it: limit may be as large as an int64 goes.
	start := len(dst)
	if cap(dst)-start < 512 {
		dst = grow(dst, room(4*int64(len(compressed))+512, limit))
	}
	for {
		left := limit - int64(len(dst)-start) // >= 0: checked after every read
		if len(dst) == cap(dst) {
			// Double what was inflated so far, up to one byte past the
			// limit (to tell a message of exactly limit bytes from a bigger one).
			dst = grow(dst, room(int64(max(cap(dst)-start, 512)), left))
		}
		n, err := in.fr.Read(dst[len(dst):cap(dst)])
		if int64(n) > left {
			return dst[:start], protocolError(ws.StatusMessageTooBig, fmt.Sprintf("message larger than %d bytes once inflated", limit))
		}
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			if in.src.Len() > 0 {
				// The sender ended the stream before its message did.
				return dst[:start], protocolError(ws.StatusInvalidFramePayloadData, "invalid compressed message: data after the final block")
			}
			return dst, nil
		}
		if err != nil {
			return dst[:start], protocolError(ws.StatusInvalidFramePayloadData, "invalid compressed message")
		}
	}
}

// room returns want, or one byte more than left when want is more than
// that: enough to see that a message goes past its limit.
func room(want, left int64) int64 {
	if want > left {
		return left + 1 // left < want <= MaxInt64: no overflow
	}
	return want
}

// grow returns dst with room for at least n more bytes (n >= 1).
func grow(dst []byte, n int64) []byte {
	if n < 1 {
		n = 1
	}
	nb := make([]byte, len(dst), int64(len(dst))+n)
	copy(nb, dst)
	return nb
}

// deflater compresses one message at a time into out.
type deflater struct {
	fw  *flate.Writer
	out []byte
}

func (d *deflater) Write(b []byte) (int, error) {
	d.out = append(d.out, b...)
	return len(b), nil
}

// deflaters pools compressors per level (flate.HuffmanOnly is -2).
var deflaters [flate.BestCompression - flate.HuffmanOnly + 1]sync.Pool

// compress appends the compressed form of msg, without the 4-byte tail that
// §7.2.1 strips, to dst. ok is false when compression would not make the
// message smaller; dst is unchanged then.
func compress(dst, msg []byte, level int) (_ []byte, ok bool) {
	pool := &deflaters[level-flate.HuffmanOnly]
	d, _ := pool.Get().(*deflater)
	if d == nil {
		d = new(deflater)
		d.fw, _ = flate.NewWriter(d, level)
	} else {
		d.fw.Reset(d)
	}
	d.out = dst
	_, err := d.fw.Write(msg)
	if err == nil {
		err = d.fw.Flush()
	}
	out := d.out
	d.out = nil
	pool.Put(d)
	if err != nil || len(out) < len(dst)+4 || len(out)-len(dst)-4 >= len(msg) {
		return dst, false
	}
	return out[:len(out)-4], true
}
