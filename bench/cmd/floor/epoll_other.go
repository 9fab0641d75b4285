//go:build !linux

package main

import (
	"errors"
	"net"
)

// epoll is the floor's epoll engine, which only Linux has.
type epoll struct{}

func newEpoll() (*epoll, error) { return nil, errors.New("-engine epoll needs Linux") }

func (*epoll) serve(net.Conn) {}
