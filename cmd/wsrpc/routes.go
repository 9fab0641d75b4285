package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	wsrpc "github.com/wsrpc/wsrpc-go"
)

// maxExecStderr bounds what a -route command's stderr adds to its error
// reply.
const maxExecStderr = 512

// execWaitDelay bounds the wait for a -route command's output once it was
// killed (a child of it may hold its stdout open).
const execWaitDelay = time.Second

// routeSpec is one -route flag: NAME, NAME=JSON or NAME=exec:COMMAND.
type routeSpec struct {
	name    string
	answer  json.RawMessage // NAME=JSON; "null" for NAME
	command string          // NAME=exec:COMMAND
}

// parseRoutes parses the -route flags.
func parseRoutes(values []string) ([]routeSpec, error) {
	specs := make([]routeSpec, 0, len(values))
	seen := map[string]bool{}
	for _, v := range values {
		name, rest, hasValue := strings.Cut(v, "=")
		name = strings.TrimSpace(name)
		if name == "" {
			return nil, usagef("-route %q: want NAME, NAME=JSON or NAME=exec:COMMAND", v)
		}
		if seen[name] {
			return nil, usagef("-route %q: the route %s is given twice", v, name)
		}
		seen[name] = true
		spec := routeSpec{name: name, answer: json.RawMessage("null")}
		switch cmd, isExec := strings.CutPrefix(rest, "exec:"); {
		case !hasValue:
		case isExec:
			if strings.TrimSpace(cmd) == "" {
				return nil, usagef("-route %q: exec: needs a command", v)
			}
			spec.command = cmd
		default:
			var b bytes.Buffer
			if err := json.Compact(&b, []byte(rest)); err != nil {
				return nil, usagef("-route %q: the answer is not valid JSON (%v); quote a string as '\"text\"'", v, err)
			}
			spec.answer = b.Bytes()
		}
		specs = append(specs, spec)
	}
	return specs, nil
}

// registry returns the routes of the -route flags (nil for none: the
// built-in ping only). With printCalls (listen) each call is printed as
// {"method":NAME,"params":...}.
func (s *session) registry(printCalls bool) (*wsrpc.Registry, error) {
	if len(s.routes) == 0 {
		return nil, nil
	}
	reg := wsrpc.NewRegistry()
	for _, spec := range s.routes {
		if err := reg.Add(spec.name, s.routeHandler(spec, printCalls)); err != nil {
			return nil, usagef("-route %q: %v", spec.name, err)
		}
	}
	return reg, nil
}

// routeHandler is the handler of one -route route.
func (s *session) routeHandler(spec routeSpec, printCalls bool) func(context.Context, json.RawMessage) (json.RawMessage, error) {
	return func(ctx context.Context, params json.RawMessage) (json.RawMessage, error) {
		if printCalls {
			line, err := json.Marshal(struct {
				Method string          `json:"method"`
				Params json.RawMessage `json:"params"`
			}{spec.name, params})
			if err != nil {
				return nil, err
			}
			s.out.print("", safe(line, true))
		}
		if spec.command == "" {
			return spec.answer, nil
		}
		return s.runCommand(ctx, spec, params)
	}
}

// runCommand runs the command of an exec route: params as JSON on its
// stdin, its stdout (at most maxLine bytes, one JSON value; empty is null)
// the answer. It is bounded by -timeout; a failure, a timeout, output that
// is too large or not JSON are error replies.
func (s *session) runCommand(ctx context.Context, spec routeSpec, params json.RawMessage) (json.RawMessage, error) {
	if len(params) == 0 {
		params = json.RawMessage("null")
	}
	if s.o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.o.timeout)
		defer cancel()
	}
	ctx, kill := context.WithCancel(ctx) // ends the command once its output is over the limit
	defer kill()
	cmd := exec.CommandContext(ctx, "sh", "-c", spec.command)
	cmd.WaitDelay = execWaitDelay
	cmd.Stdin = bytes.NewReader(params)
	stdout := &boundedBuffer{limit: maxLine, onOver: kill}
	stderr := &boundedBuffer{limit: maxExecStderr}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	what := fmt.Sprintf("-route %s: %s", spec.name, spec.command)
	var ee *exec.ExitError
	switch {
	case stdout.over:
		return nil, &wsrpc.Error{Type: wsrpc.TypeRuntimeError, Message: fmt.Sprintf("%s: printed more than %d bytes", what, maxLine)}
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return nil, &wsrpc.Error{Type: wsrpc.TypeTimeoutError, Message: fmt.Sprintf("%s: did not finish within %v (-timeout)", what, s.o.timeout)}
	case errors.As(err, &ee):
		msg := fmt.Sprintf("%s: exited with status %d", what, ee.ExitCode())
		if e := strings.TrimSpace(stderr.b.String()); e != "" {
			msg += ": " + strings.ToValidUTF8(e, "")
		}
		return nil, &wsrpc.Error{Type: wsrpc.TypeRuntimeError, Message: msg}
	case err != nil:
		return nil, &wsrpc.Error{Type: wsrpc.TypeRuntimeError, Message: fmt.Sprintf("%s: %v", what, err)}
	}
	out := bytes.TrimSpace(stdout.b.Bytes())
	if len(out) == 0 {
		return json.RawMessage("null"), nil
	}
	if !json.Valid(out) {
		return nil, &wsrpc.Error{Type: wsrpc.TypeValueError, Message: what + ": its output is not one JSON value"}
	}
	return out, nil
}

// boundedBuffer keeps the first limit bytes written to it and notes that
// more came; it never fails a write, so the command is not killed by a
// broken pipe.
type boundedBuffer struct {
	b      bytes.Buffer
	limit  int
	over   bool
	onOver func() // called once, when more than limit came; may be nil
}

func (w *boundedBuffer) Write(p []byte) (int, error) {
	if room := w.limit - w.b.Len(); len(p) > room {
		w.b.Write(p[:max(room, 0)])
		if !w.over && w.onOver != nil {
			w.onOver()
		}
		w.over = true
		return len(p), nil
	}
	return w.b.Write(p)
}
