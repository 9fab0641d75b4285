package wsio

import (
	"encoding/binary"
	"unicode/utf8"
)

// unmask XORs data with the frame's masking key in place (RFC 6455 §5.3)
// and reports whether every byte of the result is ASCII, which is valid
// UTF-8 without a further pass: most text messages of this protocol are
// ASCII JSON, so one walk does both jobs. It works eight bytes at a time.
func unmask(data []byte, key [4]byte) (ascii bool) {
	k32 := binary.LittleEndian.Uint32(key[:])
	k := uint64(k32) | uint64(k32)<<32
	var high uint64
	i := 0
	for ; i+8 <= len(data); i += 8 {
		v := binary.LittleEndian.Uint64(data[i:]) ^ k
		binary.LittleEndian.PutUint64(data[i:], v)
		high |= v
	}
	var tail byte
	for j := i; j < len(data); j++ {
		data[j] ^= key[(j-i)&3]
		tail |= data[j]
	}
	return high&0x8080808080808080 == 0 && tail < 0x80
}

// validText reports whether a text payload is valid UTF-8; ascii says the
// unmasking found it all ASCII already.
func validText(data []byte, ascii bool) bool { return ascii || utf8.Valid(data) }
