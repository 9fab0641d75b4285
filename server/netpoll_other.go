//go:build !linux

package server

import (
	"errors"
	"net"
	"syscall"
)

const netpollSupported = false

type netpoll struct{}

func (s *Server) netpollAdd(nc net.Conn, up *upgraded) error {
	return errors.New("netpoll is only available on Linux")
}

func (s *Server) netpollAccepted(nc net.Conn) bool { return false }

func (s *Server) rawListener(ln net.Listener) syscall.RawConn { return nil }

func (s *Server) acceptPending(rc syscall.RawConn) {}
