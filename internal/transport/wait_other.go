//go:build !linux

package transport

// readiness is not available here: connections wait in Read, with a buffer.
func (s *Stream) readiness() bool { return false }

// read and readable are never called where readiness is false.
func (s *Stream) read() (*[]byte, int, error) { panic("transport: read without readiness") }
func (s *Stream) readable() error             { panic("transport: readable without readiness") }
