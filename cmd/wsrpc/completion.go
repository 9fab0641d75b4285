package main

import "strings"

// completionFlags are the flags the completion scripts offer.
const completionFlags = "-H -timeout -v -route -reconnect -json -package"

// completionScripts are the scripts of "wsrpc completion SHELL"; @CMDS@ and
// @FLAGS@ stand for the commands and the flags.
var completionScripts = map[string]string{
	"bash": `# bash completion for wsrpc: source <(wsrpc completion bash)
_wsrpc() {
    local cur prev cmd i
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    cmd=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            -H|-timeout|-route|-package) ((i++)) ;;
            -*) ;;
            *) cmd="${COMP_WORDS[i]}"; break ;;
        esac
    done
    case "$prev" in
        -H|-timeout|-route|-package) return ;;
    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "@FLAGS@" -- "$cur"))
        return
    fi
    case "$cmd" in
        "") COMPREPLY=($(compgen -W "@CMDS@" -- "$cur")) ;;
        help) COMPREPLY=($(compgen -W "@CMDS@" -- "$cur")) ;;
        gen) COMPREPLY=($(compgen -W "ts go" -- "$cur")) ;;
        completion) COMPREPLY=($(compgen -W "bash zsh fish" -- "$cur")) ;;
        describe) COMPREPLY=($(compgen -f -- "$cur")) ;;
    esac
}
complete -o default -F _wsrpc wsrpc
`,
	"zsh": `#compdef wsrpc
# zsh completion for wsrpc: wsrpc completion zsh > "${fpath[1]}/_wsrpc"
_wsrpc() {
    local -a cmds flags
    cmds=(@CMDS@)
    flags=(
        '-H[add a header to the upgrade request]:header (Name\: value):'
        '-timeout[bound on connecting and each call]:duration:'
        '-v[print every message to stderr]'
        '-route[expose a route: NAME, NAME=JSON or NAME=exec\:COMMAND]:route:'
        '-reconnect[listen: reconnect when the connection is lost]'
        '-json[errors as JSON; describe: the document]'
        '-package[gen go: package name]:package:'
    )
    if (( CURRENT == 2 )); then
        _describe -t commands 'wsrpc command' cmds
        return
    fi
    case "${words[2]}" in
        help) _describe -t commands 'wsrpc command' cmds ;;
        gen) _arguments $flags '2:language:(ts go)' '*:source:_files' ;;
        completion) _arguments '2:shell:(bash zsh fish)' ;;
        *) _arguments $flags '*:argument:_files' ;;
    esac
}
_wsrpc "$@"
`,
	"fish": `# fish completion for wsrpc: wsrpc completion fish > ~/.config/fish/completions/wsrpc.fish
complete -c wsrpc -f
complete -c wsrpc -n __fish_use_subcommand -a '@CMDS@'
complete -c wsrpc -n '__fish_seen_subcommand_from help' -a '@CMDS@'
complete -c wsrpc -n '__fish_seen_subcommand_from gen' -a 'ts go'
complete -c wsrpc -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'
complete -c wsrpc -n '__fish_seen_subcommand_from describe gen' -F
complete -c wsrpc -o H -r -d 'add a header to the upgrade request (Name: value)'
complete -c wsrpc -o timeout -r -d 'bound on connecting and each call'
complete -c wsrpc -o v -d 'print every message to stderr'
complete -c wsrpc -o route -r -d 'expose a route: NAME, NAME=JSON or NAME=exec:COMMAND'
complete -c wsrpc -o reconnect -d 'listen: reconnect when the connection is lost'
complete -c wsrpc -o json -d 'errors as JSON; describe: the document'
complete -c wsrpc -o package -r -d 'gen go: package name'
`,
}

// completion runs "wsrpc completion SHELL".
func completion(s *session, pos []string) int {
	if len(pos) != 1 || completionScripts[pos[0]] == "" {
		return s.fail(usagef("completion needs one shell: bash, zsh or fish"))
	}
	script := strings.NewReplacer("@CMDS@", strings.Join(commands(), " "), "@FLAGS@", completionFlags).Replace(completionScripts[pos[0]])
	s.out.print("", []byte(strings.TrimSuffix(script, "\n")))
	return exitOK
}
