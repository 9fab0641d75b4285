package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wsrpc/wsrpc-go/bench/internal/wire"
)

func runLoad(o options) error {
	switch o.call {
	case "subtract", "kv", "ping":
	default:
		return fmt.Errorf("-call %q: subtract, kv or ping", o.call)
	}
	if o.depth < 1 || o.conns < 1 {
		return errors.New("-conns and -depth must be at least 1")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	defer unix.Close(epfd)
	conns := make([]*loadConnState, 0, o.conns)
	defer func() {
		for _, c := range conns {
			unix.Close(c.FD)
		}
	}()
	for i := 0; i < o.conns; i++ {
		nc, br, err := dial(ctx, o, i)
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		fd, err := wire.DupFD(nc)
		var early []byte
		if br != nil && br.Buffered() > 0 { // bytes that came with the handshake
			early, _ = br.Peek(br.Buffered())
		}
		c := newLoadConn(o, fd)
		c.Keep(early)
		nc.Close()
		if err != nil {
			return err
		}
		conns = append(conns, c)
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(fd), Pad: int32(i)}); err != nil {
			return err
		}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	base := time.Now()
	for _, c := range conns {
		for i := 0; i < o.depth; i++ {
			c.call(0)
		}
		if err := c.flush(); err != nil {
			return err
		}
	}
	var (
		srv0, srv1 procSample
		srvErr     error
		gen0, gen1 time.Duration
		measuring  bool
		stopping   bool
		start, end time.Duration // since base
		inflight   = o.conns * o.depth
	)
	events := make([]unix.EpollEvent, 256)
	buf := make([]byte, loadReadSize)
	for {
		now := time.Since(base)
		switch {
		case !measuring && !stopping && now >= o.warmup:
			srv0, _ = readProc(o.pid)
			gen0 = selfCPU()
			measuring, start = true, now
		case measuring && now >= o.warmup+o.duration:
			gen1 = selfCPU()
			srv1, srvErr = readProc(o.pid)
			measuring, stopping, end = false, true, now
		case stopping && inflight == 0:
			return report(o, conns, end-start, gen1-gen0, srv0, srv1, srvErr)
		case stopping && now > end+10*time.Second:
			return fmt.Errorf("%d calls still unanswered 10 s after the load stopped", inflight)
		}
		n, err := unix.EpollWait(epfd, events, 50)
		if err != nil && err != unix.EINTR {
			return err
		}
		for _, ev := range events[:max(n, 0)] {
			c := conns[ev.Pad]
			b, err := c.Read(buf)
			if err != nil {
				return fmt.Errorf("read: %w", err)
			}
			if b == nil {
				continue
			}
			at := time.Since(base)
			used, answered, err := c.handle(b, at, measuring, stopping)
			if err != nil {
				return err
			}
			inflight -= answered
			if !stopping {
				inflight += answered
			}
			c.Keep(b[used:])
			if err := c.flush(); err != nil {
				return err
			}
		}
	}
}

func (c *loadConnState) flush() error {
	if len(c.out) == 0 {
		return nil
	}
	err := wire.WriteAll(c.FD, c.out)
	c.out = c.out[:0]
	return err
}

// selfCPU is this process's CPU time (user + system).
func selfCPU() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
