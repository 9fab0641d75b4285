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
	header http.Header
	out    *lines // results, events
	errs   *lines // errors, -v
	// oneShot is set by "wsrpc call": the connection makes one call, so it
	// sends no keepalive pings of its own (the server's are answered).
	oneShot bool
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

func (l *lines) printf(format string, args ...any) {
	l.print("", []byte(strings.TrimSuffix(fmt.Sprintf(format, args...), "\n")))
}

func newSession(o *options, stdout, stderr io.Writer) *session {
	h, _ := parseHeaders(o.headers) // checked by run
	return &session{o: o, header: h, out: &lines{w: stdout}, errs: &lines{w: stderr}}
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
		return nil, nil, err
	}
	var conn atomic.Pointer[wsrpc.Conn]
	opts := &client.Options{
		Options: wsrpc.Options{OnEvent: onEvent, Hooks: &wsrpc.Hooks{
			OnConnect: func(_ context.Context, c *wsrpc.Conn) error {
				conn.Store(c)
				return nil
			},
		}},
		Header: s.header,
	}
	if s.oneShot {
		opts.KeepaliveInterval = -1
	}
	opts.MaxDepth = s.maxDepth
	if s.o.verbose {
		opts.OnMessage = func(sent bool, msg []byte) {
			if sent {
				s.errs.print("> ", compact(msg))
			} else {
				s.errs.print("< ", compact(msg))
			}
		}
	}
	dctx, cancel := s.bounded(ctx)
	defer cancel()
	c, err := client.Dial(dctx, u, reg, opts)
	if err != nil {
		var he *client.HandshakeError
		if errors.As(err, &he) && (he.StatusCode == http.StatusUnauthorized || he.StatusCode == http.StatusForbidden) {
			return nil, nil, fmt.Errorf("%w (send credentials with -H, e.g. -H 'Authorization: Bearer …')", err)
		}
		if dctx.Err() != nil && ctx.Err() == nil {
			return nil, nil, fmt.Errorf("connect to %s: no answer within %v (-timeout): %w", u, s.o.timeout, err)
		}
		return nil, nil, err
	}
	return c, conn.Load(), nil
}

// hangUp closes c and waits, briefly, for the close handshake.
func hangUp(c *client.Client) {
	_ = c.Close()
	select {
	case <-c.Done():
	case <-time.After(closeWait):
	}
}

// fail prints a connection or usage error and returns exitUsage.
func (s *session) fail(err error) int {
	msg := err.Error()
	if !strings.HasPrefix(msg, "wsrpc") { // the client's own errors say where they come from
		msg = "wsrpc: " + msg
	}
	s.errs.print("", []byte(msg))
	return exitUsage
}

// call runs "wsrpc call".
func (s *session) call(ctx context.Context, rawURL, method string, args []string) int {
	params, err := parseParams(args)
	if err != nil {
		return usageError(s.errs.w, err)
	}
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	s.oneShot = true // one call: no keepalive pings of our own
	c, _, err := s.dial(ctx, rawURL, nil, nil)
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
		s.out.print("", compact(result))
		return exitOK
	case errors.As(err, &re):
		s.errs.printf("%s: %s", re.Type, re.Message)
		return exitReply
	case errors.Is(err, context.DeadlineExceeded):
		s.errs.printf("wsrpc: %s: no reply within %v (-timeout)", method, s.o.timeout)
	case errors.Is(err, context.Canceled):
		s.errs.printf("wsrpc: %s: interrupted", method)
	default:
		s.errs.printf("wsrpc: %s: %v", method, err)
	}
	return exitUsage
}

// listen runs "wsrpc listen": events and calls of -route routes as JSON
// lines on stdout, until ctx ends (exit 0) or the connection is lost.
func (s *session) listen(ctx context.Context, rawURL string) int {
	reg := wsrpc.NewRegistry() // with the built-in ping: keepalive is answered
	for _, name := range s.o.routes {
		if err := reg.Add(name, s.printCall(name)); err != nil {
			return usageError(s.errs.w, fmt.Errorf("-route %q: %v", name, err))
		}
	}
	onEvent := func(_ *wsrpc.Conn, event json.RawMessage) { s.out.print("", compact(event)) }
	c, conn, err := s.dial(ctx, rawURL, reg, onEvent)
	if err != nil {
		return s.fail(err)
	}
	defer hangUp(c)
	select {
	case <-ctx.Done():
		return exitOK
	case <-c.Done():
		return s.fail(fmt.Errorf("the connection ended: %v", conn.Err()))
	}
}

// printCall is the handler of a -route route: it prints the call and
// answers null.
func (s *session) printCall(name string) func(context.Context, json.RawMessage) error {
	return func(_ context.Context, params json.RawMessage) error {
		line, err := json.Marshal(struct {
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
		}{name, params})
		if err != nil {
			return err
		}
		s.out.print("", line)
		return nil
	}
}

// repl runs "wsrpc repl": one call per line of stdin ("METHOD [PARAMS]"),
// all on one connection. Its exit status is the worst of its calls'.
func (s *session) repl(ctx context.Context, rawURL string, stdin io.Reader) int {
	c, _, err := s.dial(ctx, rawURL, nil, nil)
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
			return s.fail(errors.New("the connection was closed"))
		case err := <-readErr:
			if err != nil {
				return s.fail(fmt.Errorf("reading stdin: %v", err))
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
			s.errs.printf("wsrpc: %v", err)
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
// (which may contain spaces), or key=value pairs separated by spaces.
func lineParams(rest string) (json.RawMessage, error) {
	if raw, ok, err := jsonContainer(rest); ok || err != nil {
		return raw, err
	}
	return parseParams(strings.Fields(rest))
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
