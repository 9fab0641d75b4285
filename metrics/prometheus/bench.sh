#!/usr/bin/env bash
# The cost of the metrics, as ratios against no interceptor measured in the
# same run: the variants of BenchmarkDispatchMetrics and BenchmarkCallMetrics
# alternate, ROUNDS rounds, and each variant's median is compared with the
# baseline's.
#   bash metrics/prometheus/bench.sh            # ROUNDS=8 BENCHTIME=300ms
set -euo pipefail
cd "$(dirname "$0")"
ROUNDS=${ROUNDS:-8}
BENCHTIME=${BENCHTIME:-300ms}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go test -c -o "$out/bench.test" .
for round in $(seq "$ROUNDS"); do
  for bench in DispatchMetrics CallMetrics; do
    for v in off noop-interceptor prometheus; do
      "$out/bench.test" -test.run '^$' -test.bench "^Benchmark$bench/^$v\$" -test.benchmem -test.benchtime "$BENCHTIME" |
        grep '^Benchmark' >>"$out/results.txt"
    done
  done
done
python3 - "$out/results.txt" <<'PY'
import re, statistics, sys, collections
runs = collections.defaultdict(list)
allocs = {}
for line in open(sys.argv[1]):
    m = re.match(r'Benchmark(\w+)/(\S+?)-\d+\s+\d+\s+([\d.]+) ns/op\s+(\d+) B/op\s+(\d+) allocs/op', line)
    if m:
        runs[(m[1], m[2])].append(float(m[3]))
        allocs[(m[1], m[2])] = (m[4], m[5])
print("| benchmark | variant | median ns/op | vs off | B/op | allocs/op |")
print("|---|---|---:|---:|---:|---:|")
for bench in ("DispatchMetrics", "CallMetrics"):
    base = statistics.median(runs[(bench, "off")])
    for v in ("off", "noop-interceptor", "prometheus"):
        med = statistics.median(runs[(bench, v)])
        b, a = allocs[(bench, v)]
        print(f"| {bench} | {v} | {med:.0f} | {med/base:.2f} | {b} | {a} |")
PY
