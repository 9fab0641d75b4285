#!/usr/bin/env bash
# Installs this repository's modules the way a user outside it does, and runs a
# small program against each: the modules are served by a file-system module
# proxy made from this work tree (scripts/modproxy) at the version their go.mod
# files require of each other, in front of the usual proxy for everything else;
# each program is a scratch module outside the tree, built with GOWORK=off.
# A `replace` in a module's go.mod, a requirement of an unpublished version, or
# a module that needs a package its go.mod does not require fails here.
#
#   bash scripts/installable.sh        (make installable; part of make test)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
GO=${GO:-go}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/wsrpc-installable.XXXXXX")
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT

# The proxy: every module of the workspace, zipped as `go mod download` would
# fetch it from a tag.
(cd "$root/scripts/modproxy" && GOWORK=off GOFLAGS=-mod=readonly "$GO" build -o "$tmp/modproxy" .)
mapfile -t dirs < <(cd "$root" && "$GO" list -m -f '{{.Dir}}')
version=$("$tmp/modproxy" -out "$tmp/proxy" "$root" "${dirs[@]}")
echo "installable: the modules at $version from a file proxy, the rest from the module cache or $("$GO" env GOPROXY)"

# A user's environment: no workspace, modules resolved as needed, and no
# checksum-database lookups for modules that are not published yet. The module
# cache is one of this script's own, so that nothing from this proxy lingers in
# the real one; it stays between runs at one path (held with flock by one run
# at a time, emptied of this repository's modules first), so that the build
# cache holds the other modules' packages compiled once.
export GOWORK=off
export GOFLAGS="-mod=mod -modcacherw"
modcache="${TMPDIR:-/tmp}/wsrpc-installable-modcache-$(id -u)"
mkdir -p "$modcache"
exec 9>"$modcache.lock"
flock 9
for d in "$modcache/github.com/wsrpc" "$modcache/cache/download/github.com/wsrpc"; do
	[ -e "$d" ] && chmod -R u+w "$d" && rm -rf "$d"
done
# Modules already in the real cache are served from it (its download directory
# is laid out as a proxy; checksums are verified all the same), the rest come
# from the usual proxy.
export GOPROXY="file://$tmp/proxy,file://$("$GO" env GOMODCACHE)/cache/download,$("$GO" env GOPROXY)"
export GONOSUMDB=github.com/wsrpc/wsrpc-go
export GOMODCACHE="$modcache"
export GOTOOLCHAIN=local
# The go command indexes the packages of a module version in the build cache
# once, taking a version's files as immutable; ours change between runs under
# one version, so that index is off (a stale one loses new packages).
export GODEBUG=goindex=0

# scratch NAME WANT MODULE...: a module of its own with
# scripts/testdata/installable/NAME/main.go and common.go, after `go get` of
# each MODULE (no version: the latest, as a user types it) and `go mod tidy`;
# each MODULE and the root must then be at the version the proxy serves, and
# the program's output must contain WANT.
scratch() {
	local name=$1 want=$2
	shift 2
	local dir="$tmp/scratch/$name"
	mkdir -p "$dir"
	cp "$root/scripts/testdata/installable/$name/main.go" "$root/scripts/testdata/installable/common.go" "$dir/"
	(
		cd "$dir"
		exec 3>&1 >log 2>&1 # the go command's chatter, shown if a step fails
		trap '[ $? -eq 0 ] || { echo "installable: $name failed:"; cat log; } >&3' EXIT
		PS4='+ $SECONDS s: '
		set -x
		"$GO" mod init "example.com/scratch/$name"
		"$GO" get "$@"
		"$GO" mod tidy
		for m in github.com/wsrpc/wsrpc-go "$@"; do
			got=$("$GO" list -m -f '{{.Version}}' "$m")
			[ "$got" = "$version" ] || { echo "go get $m chose $got, not $version"; exit 1; }
		done
		"$GO" build -o "$name" .
		out=$(timeout 60 "./$name")
		set +x
		case "$out" in *"$want"*) ;; *) echo "want output containing \"$want\", got: $out"; exit 1 ;; esac
		echo "installable: $name: $(grep -F "$want" <<<"$out")" >&3
	)
}

scratch root "subtract = -8" github.com/wsrpc/wsrpc-go
scratch discovery "method subtract" github.com/wsrpc/wsrpc-go/discovery
scratch prometheus "wsrpc_server_calls_total = 1" github.com/wsrpc/wsrpc-go/metrics/prometheus
scratch otel "span hello" github.com/wsrpc/wsrpc-go/tracing/otel
scratch nats "multiply = 42" github.com/wsrpc/wsrpc-go/cluster/nats

# The command, as the README installs it.
GOBIN="$tmp/bin" "$GO" install github.com/wsrpc/wsrpc-go/cmd/wsrpc@latest >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; exit 1; }
test -x "$tmp/bin/wsrpc"
echo "installable: go install github.com/wsrpc/wsrpc-go/cmd/wsrpc@latest: ok"
