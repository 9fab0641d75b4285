package main

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/wsrpc/wsrpc-go/bench/internal/wire"
)

// epoll is the floor's mirror of the netpoll engine: as many pollers as the
// wsrpc server starts (GOMAXPROCS, at most 8), each with its epoll
// instance, its goroutine and one read buffer; connections are bare
// descriptors (the net.Conn is closed after the upgrade), read
// level-triggered once per event, and written directly.
type epoll struct {
	pollers []*epoller
	next    atomic.Uint32
}

type epoller struct {
	epfd int
	buf  []byte
	mu   sync.Mutex
	fds  []*epeer // by descriptor
}

// epeer is a connection: its state and the bytes of a frame that a read
// left incomplete.
type epeer struct {
	peer
	wire.Stream
}

func newEpoll() (*epoll, error) {
	ep := &epoll{}
	for i := 0; i < max(1, min(runtime.GOMAXPROCS(0), 8)); i++ {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			return nil, fmt.Errorf("epoll_create1: %w", err)
		}
		p := &epoller{epfd: fd, buf: make([]byte, readSize)}
		ep.pollers = append(ep.pollers, p)
		go p.loop()
	}
	return ep, nil
}

// serve upgrades nc, then hands a duplicate of its descriptor to a poller.
func (ep *epoll) serve(nc net.Conn) {
	defer nc.Close()
	if _, err := ws.Upgrade(nc); err != nil {
		return
	}
	fd, err := wire.DupFD(nc)
	if err != nil {
		return
	}
	p := ep.pollers[ep.next.Add(1)%uint32(len(ep.pollers))]
	c := &epeer{Stream: wire.Stream{FD: fd}}
	p.mu.Lock()
	for len(p.fds) <= fd {
		p.fds = append(p.fds, nil)
	}
	p.fds[fd] = c
	p.mu.Unlock()
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(fd)}); err != nil {
		p.drop(c)
	}
}

func (p *epoller) loop() {
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			panic(err)
		}
		for i := 0; i < n; i++ {
			fd := int(events[i].Fd)
			p.mu.Lock()
			c := p.fds[fd]
			p.mu.Unlock()
			if c != nil {
				p.readable(c)
			}
		}
	}
}

// readable makes one read and answers what it completed.
func (p *epoller) readable(c *epeer) {
	b, err := c.Read(p.buf)
	if b == nil {
		if err != nil {
			p.drop(c)
		}
		return
	}
	used, ferr := c.feed(b)
	if len(c.out) > 0 {
		if wire.WriteAll(c.FD, c.out) != nil {
			ferr = errClosed
		}
		c.out = c.out[:0]
	}
	if ferr != nil {
		p.drop(c)
		return
	}
	c.Keep(b[used:])
}

func (p *epoller) drop(c *epeer) {
	_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, c.FD, nil)
	p.mu.Lock()
	if p.fds[c.FD] == c {
		p.fds[c.FD] = nil
	}
	p.mu.Unlock()
	_ = unix.Close(c.FD)
}
