package wire

// Stream is a non-blocking socket read by an epoll loop: its descriptor
// and the bytes of a frame that a read left incomplete. Reads go to the
// loop's shared buffer while nothing is left over, so a stream whose
// frames end with its reads owns no buffer.
type Stream struct {
	FD   int
	rest []byte
}

// Keep saves the bytes of an incomplete frame for the next Read.
func (s *Stream) Keep(left []byte) { s.rest = append(s.rest[:0], left...) }
