package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
)

const usage = `Usage:
  wsrpc call   [flags] URL METHOD [PARAMS]  call METHOD, print its result as JSON
  wsrpc listen [flags] URL                  print the server's events (and calls of -route routes) as JSON lines
  wsrpc repl   [flags] URL                  read "METHOD [PARAMS]" lines from stdin, on one connection
  wsrpc describe [-json] URL|FILE           print the methods of the server's rpc.discover document (-json: the document)
  wsrpc gen ts URL|FILE                     print a TypeScript module typing the server's methods: bind(rpc) → API
  wsrpc gen go -package P URL|FILE          print Go stubs for the server's methods over wsrpc.Call
  wsrpc version                             print the version of wsrpc
  wsrpc completion bash|zsh|fish            print a shell completion script
  wsrpc help [COMMAND]                      print this help, or a command's

PARAMS is one JSON object or array, key=value pairs (a value is JSON when
it parses, else a string; a number that is not valid JSON, such as 007, is
refused), "-" (read from stdin) or @FILE. No PARAMS sends {}.

Flags (anywhere on the command line; "--" ends them):
  -H 'Name: value'  add a header to the upgrade request, e.g. Authorization or Origin (repeatable)
  -timeout 10s      bound on connecting, on each call and on each -route command (0: no bound)
  -v                print every message to stderr: "> " sent, "< " received
  -route SPEC       call, repl, listen: expose a route the server may call (repeatable):
                      NAME               answer null (listen prints the call)
                      NAME=JSON          answer JSON
                      NAME=exec:COMMAND  run COMMAND (sh -c) with the params as JSON on stdin,
                                         answer the JSON it prints; a failure is an error reply
  -reconnect        listen: reconnect when the connection is lost, until interrupted
  -json             errors as JSON objects on stderr; describe: print the document as JSON
  -package P        gen go: the package name of the stubs (default: the title's)

Everything the server sends is printed with control characters escaped.

Exit status: 0 success, 1 error reply (stderr: "TYPE: message"),
2 usage, connection or timeout error, 130 interrupted (Ctrl-C).
`

// commandHelp is the help of each command ("wsrpc help COMMAND").
var commandHelp = map[string]string{
	"call": `Usage: wsrpc call [flags] URL METHOD [PARAMS]

Calls METHOD on the server at URL and prints its result as compact JSON on
one line. PARAMS: one JSON object or array, key=value pairs, "-" (stdin) or
@FILE; none sends {}. With -route the server may call back during the call:
  wsrpc call ws://127.0.0.1:8000/ws/ multiply_loopback -route 'multiply=exec:jq ".x*.y"'

Flags: -H, -timeout, -v, -route, -json (see "wsrpc help").
Exit status: 0 result, 1 error reply ("TYPE: message" on stderr), 2 usage,
connection or timeout error, 130 interrupted.
`,
	"listen": `Usage: wsrpc listen [flags] URL

Prints the server's events as JSON lines until interrupted, and the calls of
its -route routes as {"method":NAME,"params":...} lines. The connection
answers the server's keepalive pings. Without -reconnect, a lost connection
ends it (exit 2, with the close code and reason); with -reconnect it
reconnects, with backoff, until interrupted.

Flags: -H, -timeout, -v, -route, -reconnect, -json (see "wsrpc help").
Exit status: 0 stopped by SIGTERM, 2 connection lost, 130 interrupted.
`,
	"repl": `Usage: wsrpc repl [flags] URL

Reads "METHOD [PARAMS]" lines from stdin and calls each on one connection
(a struct route keeps its state between lines). PARAMS as for call, without
"-"; lines starting with # are comments.

Flags: -H, -timeout, -v, -route, -json (see "wsrpc help").
Exit status: the worst of its calls' (see "wsrpc help call").
`,
	"describe": `Usage: wsrpc describe [-json] URL|FILE

Prints the methods of the server's rpc.discover document (or a saved
document; FILE "-" is stdin): signatures, param types and docs. -json prints
the document itself, with control characters escaped.
`,
	"gen": `Usage: wsrpc gen ts URL|FILE
       wsrpc gen go -package P URL|FILE

Prints a TypeScript module (bind(rpc) → typed API) or Go stubs over
wsrpc.Call for the methods of the server's rpc.discover document.
`,
	"version": `Usage: wsrpc version

Prints the version of wsrpc and of the Go toolchain that built it.
`,
	"completion": `Usage: wsrpc completion bash|zsh|fish

Prints a completion script for the shell. For example:
  source <(wsrpc completion bash)                     # bash, in ~/.bashrc
  wsrpc completion zsh > "${fpath[1]}/_wsrpc"          # zsh
  wsrpc completion fish > ~/.config/fish/completions/wsrpc.fish
`,
	"help": `Usage: wsrpc help [COMMAND]

Prints the help, or the help of COMMAND.
`,
}

// commands returns the names of the commands, sorted.
func commands() []string {
	names := make([]string, 0, len(commandHelp))
	for n := range commandHelp {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// help prints the help, or the help of the command pos[0].
func help(s *session, pos []string) int {
	if len(pos) == 0 {
		fmt.Fprint(s.out.w, usage)
		return exitOK
	}
	text, ok := commandHelp[pos[0]]
	if !ok {
		return s.fail(usagef("help %q: no such command (the commands: %s)", pos[0], strings.Join(commands(), ", ")))
	}
	fmt.Fprint(s.out.w, text)
	return exitOK
}

// version prints the module's version as the build recorded it.
func version(stdout io.Writer) int {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	fmt.Fprintf(stdout, "wsrpc %s %s %s/%s\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return exitOK
}
