#!/usr/bin/env bash
# Compares this tree's benchmark server with the one at another commit, in
# one run: the floor, both servers on both engines, pinned to CPU 0 with the
# load generator on CPU 1, two alternated rounds.
#   bash bench/ab.sh BASE_REV            # throughput at 64×16 and 1×1 p50
#   IDLE=1 bash bench/ab.sh BASE_REV     # then idle memory, 19,000 connections
# Besides calls/s it prints each server's CPU time per call (user + system,
# from /proc/PID/stat, over the load run): on a machine that other work
# shares, calls/s moves with what else runs, CPU per call much less.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:?usage: bench/ab.sh BASE_REV}
out=$(mktemp -d)
git worktree add -q --detach "$out/base" "$base"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; git worktree remove --force "$out/base"; rm -rf "$out"; }
trap cleanup EXIT
(cd "$out/base" && go build -o "$out/base-server" ./bench/cmd/server)
go build -o "$out/new-server" ./bench/cmd/server
go build -o "$out/floor" ./bench/cmd/floor
go build -o "$out/loadgen" ./bench/cmd/loadgen
DUR=${DUR:-4s}
taskset -c 0 "$out/floor" -addr 127.0.0.1:9501 >/dev/null 2>&1 & pids+=($!)
taskset -c 0 "$out/base-server" -addr 127.0.0.1:9502 -engine netpoll >/dev/null 2>&1 & pids+=($!)
taskset -c 0 "$out/new-server" -addr 127.0.0.1:9503 -engine netpoll >/dev/null 2>&1 & pids+=($!)
taskset -c 0 "$out/base-server" -addr 127.0.0.1:9504 -engine goroutine >/dev/null 2>&1 & pids+=($!)
taskset -c 0 "$out/new-server" -addr 127.0.0.1:9505 -engine goroutine >/dev/null 2>&1 & pids+=($!)
sleep 1
name() { case $1 in 9502) echo "base netpoll";; 9503) echo "new netpoll";; 9504) echo "base goroutine";; 9505) echo "new goroutine";; esac; }
# cpu PORT: the server's user + system CPU time so far, in clock ticks.
cpu() { awk '{print $14 + $15}' "/proc/${pids[$(($1 - 9501))]}/stat"; }
# load PORT ARGS...: loadgen's summary line plus " cpu/call=µs" (the server's
# CPU time during the run divided by the calls answered; no warm-up, so both
# count the same calls).
load() {
  local before after r calls
  before=$(cpu "$1")
  r=$(taskset -c 1 "$out/loadgen" -url "ws://127.0.0.1:$1/ws/" -duration "$DUR" -warmup 0s "${@:2}" | tail -1)
  after=$(cpu "$1")
  calls=$(echo "$r" | sed -E 's#^calls=([0-9]+).*#\1#')
  echo "$r cpu/call=$(awk -v t="$(getconf CLK_TCK)" "BEGIN{printf \"%.2f\", ($after-$before)*1e6/t/$calls}")"
}
field() { sed -E "s#.*$1=([^ ]+).*#\\1#"; }
echo "| round | server | call | conns×depth | calls/s | vs floor | p50 | CPU µs/call | CPU vs floor |"
echo "|---|---|---|---|---:|---:|---:|---:|---:|"
for round in 1 2; do
  fl=$(load 9501 -conns 64 -depth 16); fc=$(echo "$fl" | field 'calls/s'); fcpu=$(echo "$fl" | field 'cpu/call')
  echo "| $round | floor | subtract | 64×16 | $fc | 1.00 | $(echo "$fl" | field p50) | $fcpu | 1.00 |"
  for call in subtract kv; do
    for port in 9502 9503 9504 9505; do
      r=$(load $port -conns 64 -depth 16 -call $call); c=$(echo "$r" | field 'calls/s')
      u=$(echo "$r" | field 'cpu/call')
      echo "| $round | $(name $port) | $call | 64×16 | $c | $(awk "BEGIN{printf \"%.2f\", $c/$fc}") | $(echo "$r" | field p50) | $u | $(awk "BEGIN{printf \"%.2f\", $u/$fcpu}") |"
    done
  done
  fl=$(load 9501 -conns 1 -depth 1)
  echo "| $round | floor | subtract | 1×1 | $(echo "$fl" | field 'calls/s') | — | $(echo "$fl" | field p50) | $(echo "$fl" | field 'cpu/call') | — |"
  for port in 9502 9503 9504 9505; do
    r=$(load $port -conns 1 -depth 1)
    echo "| $round | $(name $port) | subtract | 1×1 | $(echo "$r" | field 'calls/s') | — | $(echo "$r" | field p50) | $(echo "$r" | field 'cpu/call') | — |"
  done
done
if [ "${IDLE:-0}" = 1 ]; then
  ulimit -n 20000
  kill "${pids[@]}" 2>/dev/null || true
  sleep 1
  for round in 1 2; do
    for which in base new; do
      taskset -c 0 "$out/$which-server" -addr 127.0.0.1:9506 -engine netpoll >/dev/null 2>&1 &
      pid=$!
      sleep 0.5
      echo "idle, $which netpoll: $(taskset -c 1 "$out/loadgen" -url ws://127.0.0.1:9506/ws/ -idle -conns ${CONNS:-19000} -pid $pid -sources 4 | tail -1)"
      kill $pid; wait $pid 2>/dev/null || true
      sleep 1
    done
  done
fi
