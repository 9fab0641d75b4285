package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	wsrpc "github.com/wsrpc/wsrpc-go"
	"github.com/wsrpc/wsrpc-go/client"
)

// closeWait bounds the wait for the close handshake when the program ends.
const closeWait = 2 * time.Second

// maxLine bounds a line of repl input: the size of the largest message a
// server accepts by default.
const maxLine = wsrpc.DefaultMaxMessageSize

// session runs one command: its output streams and the connection's
// options.
type session struct {
	o      *options
	header http.Header // the -H flags, parsed by check
	routes []routeSpec // the -route flags, parsed by check
	out    *lines      // results, events
	errs   *lines      // errors, -v
	// oneShot is set by "wsrpc call": the connection makes one call, so it
	// sends no keepalive pings of its own (the server's are answered).
	oneShot bool
	// conn is the connection up (the last one, with -reconnect).
	conn atomic.Pointer[wsrpc.Conn]
	// stopping is set when listen ends on purpose: a close is not news.
	stopping atomic.Bool
	// maxDepth is the connection's MaxDepth (0: the default). describe and
	// gen raise it so that a deep document reaches openrpc.Parse, which
	// refuses it with a clear error, instead of being dropped unanswered.
	maxDepth int
}

// lines writes whole lines to one stream; writers on several goroutines
// (the reader's, the handlers') do not interleave.
type lines struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lines) print(prefix string, b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	buf := make([]byte, 0, len(prefix)+len(b)+1)
	buf = append(append(append(buf, prefix...), b...), '\n')
	_, _ = l.w.Write(buf)
}

func newSession(o *options, stdout, stderr io.Writer) *session {
	return &session{o: o, out: &lines{w: stdout}, errs: &lines{w: stderr}}
}

// bounded returns ctx bounded by -timeout.
func (s *session) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.o.timeout == 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, s.o.timeout)
}

// dial connects to rawURL with the session's headers; reg and onEvent may
// be nil. The connection answers the server's pings (reg has the built-in
// ping). It returns the client and its connection, whose Err tells why it
// ended.
func (s *session) dial(ctx context.Context, rawURL string, reg *wsrpc.Registry, onEvent func(*wsrpc.Conn, json.RawMessage)) (*client.Client, *wsrpc.Conn, error) {
	u, err := wsURL(rawURL)
	if err != nil {
		return nil, nil, &usageErr{err.Error()}
	}
	opts := &client.Options{
		Options: wsrpc.Options{OnEvent: onEvent, Hooks: &wsrpc.Hooks{
			OnConnect: func(_ context.Context, c *wsrpc.Conn) error {
				s.conn.Store(c)
				return nil
			},
		}},
		Header:      s.header,
		DialTimeout: s.o.timeout,
	}
	if s.o.timeout == 0 {
		opts.DialTimeout = 1<<63 - 1 // -timeout 0: no bound
	}
	if s.oneShot {
		opts.KeepaliveInterval = -1
	}
	if s.o.reconnect {
		opts.Reconnect = true
		opts.OnStateChange = s.reportState
	}
	opts.MaxDepth = s.maxDepth
	if s.o.verbose {
		opts.OnMessage = func(sent bool, msg []byte) {
			if sent {
				s.errs.print("> ", safe(compact(msg), true))
			} else {
				s.errs.print("< ", safe(compact(msg), true))
			}
		}
	}
	dctx, cancel := s.bounded(ctx)
	defer cancel()
	c, err := client.Dial(dctx, u, reg, opts)
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) { // interrupted: not the server's fault
			return nil, nil, ctx.Err()
		}
		return nil, nil, &dialError{url: u, timeout: s.o.timeout, err: err}
	}
	return c, s.conn.Load(), nil
}

// reportState tells, on stderr, of a connection lost and made again
// (listen -reconnect).
func (s *session) reportState(sc client.StateChange) {
	switch sc.State {
	case client.StateDisconnected:
		if s.stopping.Load() {
			return
		}
		code := 0
		if c := s.conn.Load(); c != nil {
			code = c.PeerCloseCode()
		}
		s.report(failure{Kind: "closed", Message: closeText(sc.Err, code) + "; reconnecting (-reconnect)", Exit: exitOK})
	case client.StateConnected:
		if sc.Attempt > 0 {
			s.errs.print("", []byte("wsrpc: connected again"))
		}
	}
}

// hangUp closes c and waits, briefly, for the close handshake.
func hangUp(c *client.Client) {
	_ = c.Close()
	select {
	case <-c.Done():
	case <-time.After(closeWait):
	}
}

// call runs "wsrpc call".
func (s *session) call(ctx context.Context, rawURL, method string, args []string, stdin io.Reader) int {
	params, err := parseParams(args, stdin)
	if err != nil {
		return s.fail(&usageErr{err.Error()})
	}
	reg, err := s.registry(false)
	if err != nil {
		return s.fail(err)
	}
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	s.oneShot = true // one call: no keepalive pings of our own
	c, _, err := s.dial(ctx, rawURL, reg, nil)
	if err != nil {
		return s.fail(err)
	}
	defer hangUp(c)
	return s.do(ctx, c, method, params)
}

// do makes one call, prints its result or error, and returns the exit
// status it deserves.
func (s *session) do(ctx context.Context, c *client.Client, method string, params json.RawMessage) int {
	var result json.RawMessage
	err := c.Call(ctx, method, params, &result)
	var re *wsrpc.Error
	switch {
	case err == nil:
		if len(result) == 0 {
			result = json.RawMessage("null")
		}
		s.out.print("", safe(compact(result), true))
		return exitOK
	case errors.As(err, &re):
		return s.fail(re)
	case errors.Is(err, context.DeadlineExceeded):
		s.report(failure{Kind: "timeout", Message: fmt.Sprintf("%s: no reply within %v (-timeout)", method, s.o.timeout), Exit: exitUsage})
		return exitUsage
	case errors.Is(err, context.Canceled):
		s.report(failure{Kind: "interrupted", Message: method + ": interrupted", Exit: exitUsage})
		return exitUsage
	}
	f := explain(err)
	if conn := s.conn.Load(); errors.Is(err, wsrpc.ErrClosed) && conn != nil {
		f = explain(&closedError{err: conn.Err(), peerCode: conn.PeerCloseCode()})
	}
	f.Message = method + ": " + f.Message
	s.report(f)
	return f.Exit
}

// listen runs "wsrpc listen": events and calls of -route routes as JSON
// lines on stdout, until ctx ends (exit 0) or the connection is lost.
func (s *session) listen(ctx context.Context, rawURL string) int {
	reg, err := s.registry(true)
	if err != nil {
		return s.fail(err)
	}
	onEvent := func(_ *wsrpc.Conn, event json.RawMessage) { s.out.print("", safe(compact(event), true)) }
	c, conn, err := s.dial(ctx, rawURL, reg, onEvent)
	if err != nil {
		return s.fail(err)
	}
	defer hangUp(c)
	select {
	case <-ctx.Done():
		s.stopping.Store(true)
		return exitOK
	case <-c.Done():
		return s.fail(&closedError{err: conn.Err(), peerCode: conn.PeerCloseCode()})
	}
}

// repl runs "wsrpc repl": one call per line of stdin ("METHOD [PARAMS]"),
// all on one connection. Its exit status is the worst of its calls'.
func (s *session) repl(ctx context.Context, rawURL string, stdin io.Reader) int {
	reg, err := s.registry(false)
	if err != nil {
		return s.fail(err)
	}
	c, conn, err := s.dial(ctx, rawURL, reg, nil)
	if err != nil {
		return s.fail(err)
	}
	defer hangUp(c)
	ctx, stop := context.WithCancel(ctx) // ends the stdin reader with repl
	defer stop()

	prompt := interactive(stdin)
	input := make(chan string)
	readErr := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 0, 4096), maxLine)
		for sc.Scan() {
			select {
			case input <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
		readErr <- sc.Err()
	}()
	worst := exitOK
	for {
		if prompt {
			s.errs.mu.Lock()
			_, _ = io.WriteString(s.errs.w, "wsrpc> ")
			s.errs.mu.Unlock()
		}
		var line string
		select {
		case <-ctx.Done():
			return worst
		case <-c.Done():
			return s.fail(&closedError{err: conn.Err(), peerCode: conn.PeerCloseCode()})
		case err := <-readErr:
			if err != nil {
				return s.fail(fmt.Errorf("reading stdin: %w", err))
			}
			return worst
		case line = <-input:
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		method, rest, _ := strings.Cut(line, " ")
		params, err := lineParams(strings.TrimSpace(rest))
		if err != nil {
			s.report(failure{Kind: "usage", Message: err.Error(), Exit: exitUsage})
			worst = max(worst, exitUsage)
			continue
		}
		cctx, cancel := s.bounded(ctx)
		code := s.do(cctx, c, method, params)
		cancel()
		worst = max(worst, code)
	}
}

// lineParams parses the PARAMS of a repl line: one JSON object or array
// (which may contain spaces), @FILE, or key=value pairs separated by
// spaces.
func lineParams(rest string) (json.RawMessage, error) {
	if raw, ok, err := jsonContainer(rest); ok || err != nil {
		return raw, err
	}
	if rest == "-" {
		return nil, errors.New(`params "-": repl reads its calls from stdin; use @FILE`)
	}
	return parseParams(strings.Fields(rest), nil)
}

// interactive reports whether r is a terminal, to show a prompt.
func interactive(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
