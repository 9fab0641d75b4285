// Command wsrpc calls the routes of a wsrpc server from a shell, listens to
// its events, and answers its calls. It speaks the wire protocol of
// wsrpc-aiohttp and @wsrpc/client, so it works with any server that does,
// Go or Python.
//
//	go install github.com/wsrpc/wsrpc-go/cmd/wsrpc@latest
//
//	wsrpc call ws://127.0.0.1:8000/ws/ subtract '{"a":1,"b":9}'   # prints -8
//	wsrpc call ws://127.0.0.1:8000/ws/ kv.set key=foo value=bar   # prints true
//	wsrpc call ws://127.0.0.1:8000/ws/ multiply_loopback -route 'multiply=exec:jq ".x*.y"'
//	wsrpc listen -route notify ws://127.0.0.1:8000/ws/            # events and calls as JSON lines
//	wsrpc repl ws://127.0.0.1:8000/ws/                            # one connection, many calls
//	wsrpc describe ws://127.0.0.1:8000/ws/                        # its methods (rpc.discover)
//	wsrpc gen ts ws://127.0.0.1:8000/ws/ > api.ts                 # typed TypeScript client
//	wsrpc gen go -package introapi ws://127.0.0.1:8000/ws/ > api.go  # typed Go stubs
//
// Run "wsrpc help" for the commands and flags, "wsrpc help COMMAND" for
// one of them. Flags may come anywhere on the command line; "--" ends
// them. Everything the server sends is printed with its control
// characters escaped, so it cannot drive the terminal.
//
// Exit status: 0 on success, 1 when the server answered with an error (its
// type and message go to stderr as "TYPE: message"), 2 for usage and
// connection errors, including a call that timed out, 130 when interrupted
// (Ctrl-C).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// Exit statuses.
const (
	exitOK          = 0
	exitReply       = 1   // the server answered with an error
	exitUsage       = 2   // usage, connection and timeout errors
	exitInterrupted = 130 // SIGINT (Ctrl-C), as shells report it
)

// defaultTimeout bounds connecting and each call unless -timeout says
// otherwise.
const defaultTimeout = 10 * time.Second

// errInterrupted is the cause of the context of run when the user pressed
// Ctrl-C: run then exits with exitInterrupted.
var errInterrupted = errors.New("interrupted")

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		signal.Reset() // a second Ctrl-C ends the process at once
		if sig == os.Interrupt {
			cancel(errInterrupted)
		} else {
			cancel(context.Canceled) // SIGTERM: a clean stop, exit 0 for listen
		}
	}()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	os.Exit(code)
}

// options are the flags, shared by every command.
type options struct {
	headers   []string
	routes    []string
	timeout   time.Duration
	verbose   bool
	json      bool   // errors as JSON; describe: the document
	reconnect bool   // listen -reconnect
	pkg       string // gen go -package
}

// listFlag collects the values of a repeatable flag.
type listFlag struct{ values *[]string }

func (f listFlag) String() string {
	if f.values == nil {
		return ""
	}
	return strings.Join(*f.values, ", ")
}

func (f listFlag) Set(v string) error {
	*f.values = append(*f.values, v)
	return nil
}

// flagSet returns the parser of every flag, filling o.
func flagSet(name string, o *options) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(listFlag{&o.headers}, "H", "header `Name: value` (repeatable)")
	fs.Var(listFlag{&o.routes}, "route", "route `NAME[=JSON|=exec:COMMAND]` to expose (repeatable)")
	fs.DurationVar(&o.timeout, "timeout", o.timeout, "bound on connecting and each call")
	fs.BoolVar(&o.verbose, "v", o.verbose, "print messages to stderr")
	fs.BoolVar(&o.json, "json", o.json, "errors as JSON; describe: print the document")
	fs.BoolVar(&o.reconnect, "reconnect", o.reconnect, "listen: reconnect when the connection is lost")
	fs.StringVar(&o.pkg, "package", o.pkg, "gen go: package `name`")
	return fs
}

// usageErr is a mistake on the command line.
type usageErr struct{ msg string }

func (e *usageErr) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageErr{fmt.Sprintf(format, args...)}
}

// parseArgs parses flags anywhere among args ("--" ends them) and returns
// the positional arguments in order. "-" alone is positional (stdin).
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return pos, err // with -h, pos names the command
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	return pos, nil
}

// run is the whole program: main adds only the process around it. ctx ends
// on SIGINT (with cause errInterrupted) or SIGTERM.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	code := runCommand(ctx, args, stdin, stdout, stderr)
	if errors.Is(context.Cause(ctx), errInterrupted) {
		return exitInterrupted
	}
	return code
}

func runCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o := &options{timeout: defaultTimeout}
	fs := flagSet("wsrpc", o)
	pos, err := parseArgs(fs, args)
	s := newSession(o, stdout, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return help(s, pos)
		}
		return s.fail(&usageErr{err.Error()})
	}
	if len(pos) == 0 {
		return s.fail(usagef("no command given"))
	}
	cmd, pos := pos[0], pos[1:]
	if err := s.check(cmd); err != nil {
		return s.fail(err)
	}
	switch cmd {
	case "help":
		return help(s, pos)
	case "version":
		return version(stdout)
	case "completion":
		return completion(s, pos)
	case "call":
		if len(pos) < 2 {
			return s.fail(usagef("call needs URL and METHOD"))
		}
		return s.call(ctx, pos[0], pos[1], pos[2:], stdin)
	case "listen":
		if len(pos) != 1 {
			return s.fail(usagef("listen needs exactly one URL"))
		}
		return s.listen(ctx, pos[0])
	case "repl":
		if len(pos) != 1 {
			return s.fail(usagef("repl needs exactly one URL"))
		}
		return s.repl(ctx, pos[0], stdin)
	case "describe":
		if len(pos) != 1 {
			return s.fail(usagef("describe needs exactly one URL or FILE"))
		}
		return s.describe(ctx, pos[0], stdin)
	case "gen":
		return s.gen(ctx, pos, stdin)
	}
	return s.fail(usagef("unknown command %q", cmd))
}

// check validates the flags that need it, for the command cmd, and keeps
// the parsed headers and routes in s.
func (s *session) check(cmd string) error {
	o := s.o
	if o.timeout < 0 {
		return usagef("-timeout %v: must not be negative (0 means no bound)", o.timeout)
	}
	if len(o.routes) > 0 && cmd != "call" && cmd != "repl" && cmd != "listen" {
		return usagef("-route is only for call, repl and listen")
	}
	if o.reconnect && cmd != "listen" {
		return usagef("-reconnect is only for listen")
	}
	var err error
	if s.routes, err = parseRoutes(o.routes); err != nil {
		return err
	}
	if s.header, err = parseHeaders(o.headers); err != nil {
		return &usageErr{err.Error()}
	}
	return nil
}
