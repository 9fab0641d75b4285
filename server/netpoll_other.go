//go:build !linux

package server

import (
	"errors"
	"net"
)

const netpollSupported = false

type netpoll struct{}

func (s *Server) netpollAdd(nc net.Conn, up *upgraded) error {
	return errors.New("netpoll is only available on Linux")
}

func (s *Server) netpollAccepted(nc net.Conn) bool { return false }
