#!/usr/bin/env bash
# Instructions per call of the server's share of a call (BenchmarkServePath
# in ./server: unmask, parse, route, decode, run, encode, frame, no system
# calls) beside the floor's (BenchmarkFeed in ./bench/cmd/floor, the same
# reads), counted by valgrind's callgrind, which other work on the machine
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
go test -c -o "$out/floor.test" ./bench/cmd/floor
count() { # count BINARY BENCH READS: the instructions of one run
	GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off GOGC=off GOMAXPROCS=1 valgrind --tool=callgrind \
		--callgrind-out-file="$out/cg.$3" "$out/$1" -test.run '^$' \
		-test.bench "$2\$" -test.benchtime="$3x" >/dev/null 2>"$out/vg.$3"
	grep -o 'Collected : [0-9]*' "$out/vg.$3" | awk '{print $3}'
}
percall() { # percall BINARY BENCH
	local lo hi
	lo=$(count "$1" "$2" 1000)
	hi=$(count "$1" "$2" 3000)
	echo $(( (hi - lo) / 32000 ))
}
calls=("$@")
[ ${#calls[@]} -gt 0 ] || calls=(subtract kv)
for c in "${calls[@]}"; do
	s=$(percall server.test "BenchmarkServePath/$c")
	f=$(percall floor.test "BenchmarkFeed/$c")
	echo "$c: $s instructions per call (floor: $f, $(awk "BEGIN{printf \"%.2f\", $s/$f}")×)"
done
