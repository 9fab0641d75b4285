package server

// EmitEncoded queues msg, an event encoded once with wsrpc.EncodeEvent, to
// every connected client, sharing the bytes between them, and returns the
// number of clients it was queued to. A client whose connection is closed
// or whose send queue is full is skipped.
func (s *Server) EmitEncoded(msg []byte) int {
	n := 0
	for _, c := range s.Clients() {
		if c.EmitEncoded(msg) == nil {
			n++
		}
	}
	return n
}
