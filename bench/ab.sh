#!/usr/bin/env bash
# Compares this tree's benchmark server with the one at another commit, in
# one run: the epoll floor, both servers on both engines, pinned to CPU 0
# with the load generator on CPU 1, two alternated rounds; the floor runs
# the same call as the rows after it.
#   bash bench/ab.sh BASE_REV            # throughput at 64×16 and 1×1 p50
#   IDLE=1 bash bench/ab.sh BASE_REV     # then idle memory, 19,000 connections
# Besides calls/s it prints each server's CPU time per call (user + system,
# from /proc/PID/stat, over the measured window, as bench/cmd/loadgen -pid
# reports it): on a machine that other work shares, calls/s moves with what
# else runs, CPU per call much less. A row where the load generator's core
# was saturated (>= 95%) and the server's was not is marked ⚠, and the run
# ends with a warning: its calls/s are the generator's (lib.sh's check).
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
. bench/lib.sh   # field, ratio, load, serve, idle, check, warn_summary
serve "$out/floor" 9501 epoll
serve "$out/base-server" 9502 netpoll
serve "$out/new-server" 9503 netpoll
serve "$out/base-server" 9504 goroutine
serve "$out/new-server" 9505 goroutine
sleep 1
name() { case $1 in 9502) echo "base netpoll";; 9503) echo "new netpoll";; 9504) echo "base goroutine";; 9505) echo "new goroutine";; esac; }
# run PORT ARGS...: a load run of DUR on the server at PORT (lib.sh's load).
run() { load "$1" "${pids[$(($1 - 9501))]}" "$DUR" "${@:2}"; }
echo "| round | server | call | conns×depth | calls/s | vs floor | p50 | CPU µs/call | CPU vs floor | server CPU | generator CPU |"
echo "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
# cpus LABEL LINE: sets cells to the row's server and generator CPU cells,
# the generator's marked ⚠ when it set the pace (lib.sh's check; not in a
# subshell, so that its warning is kept).
cpus() { check "$1" "$2"; cells="$(echo "$2" | field server_cpu) | $(echo "$2" | field gen_cpu)$mark"; }
for round in 1 2; do
  for call in subtract kv; do
    fl=$(run 9501 -conns 64 -depth 16 -call $call); fc=$(echo "$fl" | field 'calls/s'); fcpu=$(echo "$fl" | field 'server_us/call')
    cpus "round $round floor $call 64×16" "$fl"
    echo "| $round | floor (epoll) | $call | 64×16 | $fc | 1.00 | $(echo "$fl" | field p50) | $fcpu | 1.00 | $cells |"
    for port in 9502 9503 9504 9505; do
      r=$(run $port -conns 64 -depth 16 -call $call); c=$(echo "$r" | field 'calls/s')
      u=$(echo "$r" | field 'server_us/call')
      cpus "round $round $(name $port) $call 64×16" "$r"
      echo "| $round | $(name $port) | $call | 64×16 | $c | $(ratio "$c" "$fc") | $(echo "$r" | field p50) | $u | $(ratio "$u" "$fcpu") | $cells |"
    done
  done
  fl=$(run 9501 -conns 1 -depth 1)
  cpus "round $round floor subtract 1×1" "$fl"
  echo "| $round | floor (epoll) | subtract | 1×1 | $(echo "$fl" | field 'calls/s') | — | $(echo "$fl" | field p50) | $(echo "$fl" | field 'server_us/call') | — | $cells |"
  for port in 9502 9503 9504 9505; do
    r=$(run $port -conns 1 -depth 1)
    cpus "round $round $(name $port) subtract 1×1" "$r"
    echo "| $round | $(name $port) | subtract | 1×1 | $(echo "$r" | field 'calls/s') | — | $(echo "$r" | field p50) | $(echo "$r" | field 'server_us/call') | — | $cells |"
  done
done
warn_summary
if [ "${IDLE:-0}" = 1 ]; then
  ulimit -n 20000
  kill "${pids[@]}" 2>/dev/null || true
  sleep 1
  for round in 1 2; do
    for which in base new; do
      idle "$which netpoll" "$out/$which-server" netpoll
    done
  done
fi
