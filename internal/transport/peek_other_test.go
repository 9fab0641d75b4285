//go:build !linux

package transport

import "net"

// readable is always true where readiness is not used.
func readable(*net.TCPConn) bool { return true }
