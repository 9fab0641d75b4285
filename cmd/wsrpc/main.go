// Command wsrpc calls the routes of a wsrpc server from a shell, and listens
// to its events. It speaks the wire protocol of wsrpc-aiohttp and
// @wsrpc/client, so it works with any server that does, Go or Python.
//
//	go install github.com/wsrpc/wsrpc-go/cmd/wsrpc@latest
//
//	wsrpc call ws://127.0.0.1:8000/ws/ subtract '{"a":1,"b":9}'   # prints -8
//	wsrpc call ws://127.0.0.1:8000/ws/ kv.set key=foo value=bar   # prints true
//	wsrpc listen -route notify ws://127.0.0.1:8000/ws/            # events as JSON lines
//	wsrpc repl ws://127.0.0.1:8000/ws/                            # one connection, many calls
//	wsrpc describe ws://127.0.0.1:8000/ws/                        # its methods (rpc.discover)
//	wsrpc gen ts ws://127.0.0.1:8000/ws/ > api.ts                 # typed TypeScript client
//	wsrpc gen go -package introapi ws://127.0.0.1:8000/ws/ > api.go  # typed Go stubs
//
// describe and gen read the server's OpenRPC document (its rpc.discover
// route, see the discovery module), or a saved document given as a file
// name instead of the URL ("-": stdin).
//
// PARAMS is one JSON object or array, or key=value pairs (a value is JSON
// when it parses as JSON, else a string); without PARAMS the call sends {}.
// The result is printed as compact JSON on one line. The connection answers
// the server's keepalive pings, so it is never dropped for silence.
//
// Flags come before the positional arguments, before or after the command
// name: -H 'Name: value' adds a header to the upgrade request (repeatable),
// -timeout bounds connecting and each call, -v prints every message to
// stderr ("> " sent, "< " received), and -route NAME (listen) exposes a
// route that prints its calls and answers null.
//
// Exit status: 0 on success, 1 when the server answered with an error (its
// type and message go to stderr as "TYPE: message"), 2 for usage and
// connection errors, including a call that timed out.
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
	exitOK    = 0
	exitReply = 1 // the server answered with an error
	exitUsage = 2 // usage, connection and timeout errors
)

// defaultTimeout bounds connecting and each call unless -timeout says
// otherwise.
const defaultTimeout = 10 * time.Second

const usage = `Usage:
  wsrpc call   [flags] URL METHOD [PARAMS]  call METHOD, print its result as JSON
  wsrpc listen [flags] URL                  print the server's events as JSON lines until interrupted
  wsrpc repl   [flags] URL                  read "METHOD [PARAMS]" lines from stdin, on one connection
  wsrpc describe [-json] URL|FILE           print the methods of the server's rpc.discover document (-json: the document)
  wsrpc gen ts URL|FILE                     print a TypeScript module typing the server's methods: bind(rpc) → API
  wsrpc gen go -package P URL|FILE          print Go stubs for the server's methods over wsrpc.Call
  wsrpc help                                print this help

PARAMS is one JSON object or array, or key=value pairs (a value is JSON when
it parses, else a string). No PARAMS sends {}.

Flags (before the positional arguments):
  -H 'Name: value'  add a header to the upgrade request, e.g. Authorization (repeatable)
  -timeout 10s      bound on connecting and on each call (0: no bound)
  -v                print every message to stderr: "> " sent, "< " received
  -route NAME       listen: expose route NAME, print its calls as
                    {"method":NAME,"params":...} lines and answer null (repeatable)
  -json             describe: print the document as JSON
  -package P        gen go: the package name of the stubs (default: the title's)

Exit status: 0 success, 1 error reply (stderr: "TYPE: message"),
2 usage, connection or timeout error.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the flags, shared by every command.
type options struct {
	headers []string
	routes  []string
	timeout time.Duration
	verbose bool
	json    bool   // describe -json
	pkg     string // gen go -package
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

// flagSet returns a parser that fills o; the global one and each command's
// share o, so flags may come before or after the command name.
func flagSet(name string, o *options) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(listFlag{&o.headers}, "H", "header `Name: value` (repeatable)")
	fs.Var(listFlag{&o.routes}, "route", "route `NAME` to expose (listen; repeatable)")
	fs.DurationVar(&o.timeout, "timeout", o.timeout, "bound on connecting and each call")
	fs.BoolVar(&o.verbose, "v", o.verbose, "print messages to stderr")
	fs.BoolVar(&o.json, "json", o.json, "describe: print the document")
	fs.StringVar(&o.pkg, "package", o.pkg, "gen go: package `name`")
	return fs
}

// errUsage marks errors that the usage text helps with.
var errUsage = errors.New("usage")

// run is the whole program: main adds only the process around it. ctx ends
// on SIGINT or SIGTERM.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o := &options{timeout: defaultTimeout}
	global := flagSet("wsrpc", o)
	if code, done := parseFlags(global, args, stdout, stderr); done {
		return code
	}
	rest := global.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, "wsrpc: no command given\n\n"+usage)
		return exitUsage
	}
	cmd := rest[0]
	if cmd == "help" {
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fs := flagSet(cmd, o)
	if code, done := parseFlags(fs, rest[1:], stdout, stderr); done {
		return code
	}
	pos := fs.Args()
	if err := o.check(); err != nil {
		return usageError(stderr, err)
	}
	if len(o.routes) > 0 && cmd != "listen" {
		return usageError(stderr, fmt.Errorf("-route is only for listen"))
	}
	s := newSession(o, stdout, stderr)
	switch cmd {
	case "call":
		if len(pos) < 2 {
			return usageError(stderr, fmt.Errorf("call needs URL and METHOD"))
		}
		return s.call(ctx, pos[0], pos[1], pos[2:])
	case "listen":
		if len(pos) != 1 {
			return usageError(stderr, fmt.Errorf("listen needs exactly one URL"))
		}
		return s.listen(ctx, pos[0])
	case "repl":
		if len(pos) != 1 {
			return usageError(stderr, fmt.Errorf("repl needs exactly one URL"))
		}
		return s.repl(ctx, pos[0], stdin)
	case "describe":
		if len(pos) != 1 {
			return usageError(stderr, fmt.Errorf("describe needs exactly one URL or FILE"))
		}
		return s.describe(ctx, pos[0], stdin)
	case "gen":
		return s.gen(ctx, fs, pos, stdin)
	}
	return usageError(stderr, fmt.Errorf("unknown command %q", cmd))
}

// parseFlags parses fs; done says that run ends here with code (help was
// asked for, or a flag is wrong).
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (code int, done bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage)
		return exitOK, true
	default:
		return usageError(stderr, err), true
	}
}

func usageError(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "wsrpc: %v\nRun 'wsrpc help' for usage.\n", err)
	return exitUsage
}

// check validates the flags that need it.
func (o *options) check() error {
	if o.timeout < 0 {
		return fmt.Errorf("-timeout %v: must not be negative (0 means no bound)", o.timeout)
	}
	_, err := parseHeaders(o.headers)
	return err
}
