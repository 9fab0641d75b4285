// Package wire is the least a WebSocket JSON-RPC peer has to do, shared by
// the benchmark's floor server and its load generator: frames parsed from
// and appended to byte slices the caller reuses, and a JSON walk that finds
// an object's members without allocating. Nothing here allocates.
package wire

import (
	"encoding/binary"
	"errors"

	"github.com/gobwas/ws"
)

// Opcodes of the frames the benchmark sees.
const (
	OpText  = 0x1
	OpClose = 0x8
	OpPing  = 0x9
	OpPong  = 0xA
)

// ErrFrame is a frame the benchmark does not take: fragmented, reserved
// bits set, masked when it must not be (or the reverse), or too long.
var ErrFrame = errors.New("wire: unsupported or malformed frame")

// maskKey is the client's fixed masking key: the server cannot tell, and a
// load generator needs no unpredictability.
var maskKey = [4]byte{0x12, 0x34, 0x56, 0x78}

// Next parses the frame at the start of b. n is the bytes it takes, 0 when
// b does not hold it whole yet. A masked frame (masked says frames must be)
// is unmasked in place; payload is a slice of b.
func Next(b []byte, masked bool, max int) (op byte, payload []byte, n int, err error) {
	if len(b) < 2 {
		return 0, nil, 0, nil
	}
	b0, b1 := b[0], b[1]
	if b0&0xF0 != 0x80 || (b1&0x80 != 0) != masked {
		return 0, nil, 0, ErrFrame
	}
	h := 2
	l := int(b1 & 0x7F)
	switch l {
	case 126:
		if len(b) < 4 {
			return 0, nil, 0, nil
		}
		l, h = int(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return 0, nil, 0, nil
		}
		u := binary.BigEndian.Uint64(b[2:])
		if u > uint64(max) {
			return 0, nil, 0, ErrFrame
		}
		l, h = int(u), 10
	}
	if l > max {
		return 0, nil, 0, ErrFrame
	}
	var key [4]byte
	if masked {
		if len(b) < h+4 {
			return 0, nil, 0, nil
		}
		copy(key[:], b[h:h+4])
		h += 4
	}
	if len(b)-h < l {
		return 0, nil, 0, nil
	}
	payload = b[h : h+l]
	if masked {
		ws.Cipher(payload, key, 0)
	}
	return b0 & 0x0F, payload, h + l, nil
}

// Begin starts a final frame of opcode op at the end of out; the payload is
// appended after it and End completes the header.
func Begin(out []byte, op byte, masked bool) (b []byte, start int) {
	if masked {
		out = append(out, 0x80|op, 0x80, maskKey[0], maskKey[1], maskKey[2], maskKey[3])
	} else {
		out = append(out, 0x80|op, 0)
	}
	return out, len(out)
}

// End completes the frame whose payload started at start: its length, and
// the masking of a masked frame.
func End(out []byte, start int, masked bool) []byte {
	n := len(out) - start
	hdr := start - 1 // the length byte, before the key of a masked frame
	if masked {
		hdr -= 4
	}
	if n > 125 {
		// Two more length bytes: move the key and payload up.
		out = append(out, 0, 0)
		copy(out[hdr+3:], out[hdr+1:len(out)-2])
		binary.BigEndian.PutUint16(out[hdr+1:], uint16(n))
		out[hdr] = out[hdr]&0x80 | 126
		start += 2
	} else {
		out[hdr] |= byte(n)
	}
	if masked {
		ws.Cipher(out[start:], maskKey, 0)
	}
	return out
}

// Append appends a whole frame.
func Append(out []byte, op byte, payload []byte, masked bool) []byte {
	out, start := Begin(out, op, masked)
	out = append(out, payload...)
	return End(out, start, masked)
}
