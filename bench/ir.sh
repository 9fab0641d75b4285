#!/usr/bin/env bash
# Instructions per call of the server's share of a call (BenchmarkServePath
# in ./server: unmask, parse, route, decode, run, encode, frame, no system
# calls), counted by valgrind's callgrind, which other work on the machine
# does not move. Two runs of 1,000 and 3,000 reads of 16 calls each; their
# difference over 32,000 calls leaves set-up out.
#   bash bench/ir.sh            # subtract and kv
#   bash bench/ir.sh kv         # one of them
# Needs valgrind (Debian: apt-get install valgrind). The Go runtime's
# preemption signals upset callgrind and the collector's timing moves the
# count, so both are off for the run; so is the runtime's use of RDTSCP,
# an instruction older valgrind releases stop on (SIGILL).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "bench/ir.sh needs valgrind (apt-get install valgrind)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go test -c -o "$out/server.test" ./server
count() { # count READS CALL: the instructions of one run
	GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off GOGC=off GOMAXPROCS=1 valgrind --tool=callgrind \
		--callgrind-out-file="$out/cg.$1" "$out/server.test" -test.run '^$' \
		-test.bench "BenchmarkServePath/$2\$" -test.benchtime="$1x" >/dev/null 2>"$out/vg.$1"
	grep -o 'Collected : [0-9]*' "$out/vg.$1" | awk '{print $3}'
}
calls=("$@")
[ ${#calls[@]} -gt 0 ] || calls=(subtract kv)
for c in "${calls[@]}"; do
	lo=$(count 1000 "$c")
	hi=$(count 3000 "$c")
	echo "$c: $(( (hi - lo) / 32000 )) instructions per call"
done
