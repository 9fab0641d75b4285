#!/usr/bin/env bash
# Instructions per operation of a root-package benchmark, counted by
# valgrind's callgrind: unlike time, the count repeats on a loaded machine.
# Each figure is the difference between a 150,000- and a 50,000-iteration run
# divided by 100,000, so set-up cost cancels out.
#   bash bench/callgrind.sh                      # this tree, the default benchmarks
#   bash bench/callgrind.sh BASE_REV             # this tree beside another commit
#   BENCHES='BenchmarkDispatch/struct$' bash bench/callgrind.sh BASE_REV
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind not found (Debian: apt-get install valgrind)" >&2; exit 1; }
BENCHES=${BENCHES:-'BenchmarkCodec/decode-frame$ BenchmarkDispatch/struct$ BenchmarkDispatch/func$'}
out=$(mktemp -d)
cleanup() { [ -n "${wt:-}" ] && git worktree remove --force "$wt" >/dev/null 2>&1; rm -rf "$out"; }
trap cleanup EXIT
go test -c -o "$out/new.test" .
if [ $# -ge 1 ]; then
  wt="$out/base"
  git worktree add --detach "$wt" "$1" >/dev/null 2>&1
  (cd "$wt" && go test -c -o "$out/base.test" .)
fi
count() { # BINARY BENCH N: instructions of one run
  GOGC=off GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    "$1" -test.run '^$' -test.bench "$2" -test.benchtime "${3}x" -test.cpu 1 2>&1 |
    awk '/Collected/ {print $NF}'
}
perop() { echo $(( ($(count "$1" "$2" 150000) - $(count "$1" "$2" 50000)) / 100000 )); }
echo "| benchmark | instructions/op${1:+ (base $1) | instructions/op (this tree) | ratio} |"
echo "|---|---:|${1:+---:|---:|}"
for b in $BENCHES; do
  n=$(perop "$out/new.test" "$b")
  if [ $# -ge 1 ]; then
    o=$(perop "$out/base.test" "$b")
    echo "| $b | $o | $n | $(awk "BEGIN{printf \"%.2f\", $n/$o}") |"
  else
    echo "| $b | $n |"
  fi
done
