//go:build !linux

package transport

// readiness is not available here: connections wait in Read, with a buffer.
func (s *Stream) readiness() (read func() (*[]byte, int, error), readable func() error) {
	return nil, nil
}
