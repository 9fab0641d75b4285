#!/usr/bin/env bash
# The benchmark: wsrpc's two engines against floors of their own, each
# server pinned to CPU 0 and the load generator to CPU 1, every wsrpc row
# measured right after its floor's run of the same call and shape.
#   bash bench/run.sh            # throughput, CPU per call and latency (about 2 minutes)
#   IDLE=1 bash bench/run.sh     # also idle memory with 19,000 connections
#   IDLE=1 IDENTIFY=1 bash bench/run.sh  # the idle servers run with -identify
#   FANOUT=1 bash bench/run.sh   # also fan-out of events to 10,000 connections
#   FANOUT=1 FANOUT_ONLY=1 bash bench/run.sh  # the fan-out table alone
#   SOAK=1 bash bench/run.sh     # also 60 s of kv load on one netpoll server, beside the floor
#   SOAK=1 FANOUT_ONLY=1 bash bench/run.sh  # the fan-out and soak tables alone
# Knobs: DUR (each 64×16 run, 5s), DUR1 (each 1×1 run, 3s), CALLS ("subtract kv";
# ping too if you like), ROUNDS (of the 64×16 table, 1).
#
# The floors (bench/cmd/floor) allocate nothing per frame and answer every
# call the table makes; the netpoll engine is compared with the epoll floor,
# the goroutine engine with the goroutine-per-connection floor. Each row
# prints the server's and the generator's CPU use: a generator at >= 95%
# beside a server below 95% means the generator, not the server, set the
# pace, and the run says so.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
go build -o "$out/floor" ./bench/cmd/floor
go build -o "$out/server" ./bench/cmd/server
go build -o "$out/loadgen" ./bench/cmd/loadgen
go build -o "$out/fanout" ./bench/cmd/fanout
DUR=${DUR:-5s}
DUR1=${DUR1:-3s}
CALLS=${CALLS:-subtract kv}
ROUNDS=${ROUNDS:-1}
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$out"; }
trap cleanup EXIT
. bench/lib.sh   # field, ratio, load, serve, idle, check, warn_summary
# ms converts loadgen's durations (1.2ms, 850µs, 1.1s) to milliseconds.
ms() { awk -v d="$1" 'BEGIN{ if (d ~ /µs$/) { sub(/µs$/, "", d); print d/1000 } else if (d ~ /ms$/) { sub(/ms$/, "", d); print d+0 } else if (d ~ /ns$/) { sub(/ns$/, "", d); print d/1e6 } else { sub(/s$/, "", d); print d*1000 } }'; }
# median3 A B C
median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
if [ "${FANOUT_ONLY:-0}" != 1 ]; then
serve "$out/floor" 9301 epoll
serve "$out/floor" 9302 goroutine
serve "$out/server" 9303 netpoll
serve "$out/server" 9304 goroutine
sleep 1
name() { case $1 in 9301) echo "floor (epoll)";; 9302) echo "floor (goroutines)";; 9303) echo "wsrpc netpoll";; 9304) echo "wsrpc goroutine";; esac; }
echo "| server | call | conns×depth | calls/s | vs floor | CPU µs/call | vs floor | user µs/call | p50 | p99 | syscalls/call | server CPU | generator CPU |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
# row PORT CALL SHAPE LINE FLOOR_LINE [P50_RATIO]: one table row.
row() {
  local l=$4 f=$5
  check "$(name "$1") $2 $3" "$l"
  echo "| $(name "$1") | $2 | $3 | $(echo "$l" | field 'calls/s') | $(ratio "$(echo "$l" | field 'calls/s')" "$(echo "$f" | field 'calls/s')") | $(echo "$l" | field 'server_us/call') | $(ratio "$(echo "$l" | field 'server_us/call')" "$(echo "$f" | field 'server_us/call')") | $(echo "$l" | field 'server_user_us/call') | $(echo "$l" | field p50)${6:+ (${6}×)} | $(echo "$l" | field p99) | $(echo "$l" | field 'sys/call') | $(echo "$l" | field server_cpu) | $(echo "$l" | field gen_cpu)$mark |"
}
for round in $(seq "$ROUNDS"); do
  for pair in 9303:9301 9304:9302; do
    port=${pair%%:*}; fport=${pair#*:}
    pid=${pids[$((port - 9301))]}; fpid=${pids[$((fport - 9301))]}
    for call in $CALLS; do
      f=$(load "$fport" "$fpid" "$DUR" -conns 64 -depth 16 -call "$call")
      r=$(load "$port" "$pid" "$DUR" -conns 64 -depth 16 -call "$call")
      row "$fport" "$call" 64×16 "$f" "$f"
      row "$port" "$call" 64×16 "$r" "$f"
    done
  done
done
# One call at a time, where a run is a few µs of work per call and noise is
# the largest part of the spread: three floor/server pairs, and the pair
# whose p50 ratio is the median stands for the row.
for pair in 9303:9301 9304:9302; do
  port=${pair%%:*}; fport=${pair#*:}
  pid=${pids[$((port - 9301))]}; fpid=${pids[$((fport - 9301))]}
  ps=(); lines=()
  for k in 1 2 3; do
    f=$(load "$fport" "$fpid" "$DUR1" -conns 1 -depth 1)
    r=$(load "$port" "$pid" "$DUR1" -conns 1 -depth 1)
    ps+=("$(ratio "$(ms "$(echo "$r" | field p50)")" "$(ms "$(echo "$f" | field p50)")")")
    lines+=("$r|$f")
  done
  mp=$(median3 "${ps[@]}")
  for k in 0 1 2; do [ "${ps[$k]}" = "$mp" ] && break; done
  r=${lines[$k]%%|*}; f=${lines[$k]#*|}
  row "$fport" subtract 1×1 "$f" "$f"
  row "$port" subtract 1×1 "$r" "$f" "$mp"
done
warn_summary
fi
if [ "${IDLE:-0}" = 1 ]; then
  ulimit -n 20000
  kill "${pids[@]}" 2>/dev/null || true
  sleep 1
  for engine in netpoll goroutine; do
    idle "$engine" "$out/server" "$engine" ${IDENTIFY:+-identify}
  done
fi
if [ "${FANOUT:-0}" = 1 ] || [ "${FANOUT_ONLY:-0}" = 1 ]; then
  # One event to every one of FANOUT_CONNS connections, FANOUT_EVENTS times;
  # the server waits for its writes every FANOUT_BURST events. Server on
  # CPU 0, the clients on CPU 1; a file descriptor per connection each.
  ulimit -n 20000
  kill "${pids[@]}" 2>/dev/null || true
  sleep 1
  fc=${FANOUT_CONNS:-10000}
  fe=${FANOUT_EVENTS:-100}
  echo
  echo "| fan-out to $fc conns | burst | events/s | deliveries/s | vs floor | sender allocs/recipient |"
  echo "|---|---:|---:|---:|---:|---:|"
  for burst in ${FANOUT_BURSTS:-1 8}; do
    fdps=
    for mode in floor netpoll goroutine; do
      taskset -c 0 "$out/fanout" -serve $mode -addr 127.0.0.1:9310 -conns "$fc" -events "$fe" -burst "$burst" >"$out/fanout-server.txt" 2>&1 &
      pid=$!
      sleep 0.5
      r=$(taskset -c 1 "$out/fanout" -url ws://127.0.0.1:9310/ -conns "$fc" -events "$fe" | tail -1)
      wait $pid || true
      s=$(tail -1 "$out/fanout-server.txt")
      dps=$(echo "$r" | field 'deliveries/s')
      [ -z "$fdps" ] && fdps=$dps
      name=$([ $mode = floor ] && echo "floor (raw gobwas/ws loop)" || echo "wsrpc $mode")
      echo "| $name | $burst | $(echo "$r" | field 'events/s') | $dps | $(ratio "$dps" "$fdps") | $(echo "$s" | field 'allocs/recipient') |"
      sleep 1
    done
  done
fi
if [ "${SOAK:-0}" = 1 ]; then
  # 60 s of the kv load on one netpoll server, in six 10 s runs, each after
  # a 3 s run of the epoll floor doing kv (fresh servers, so that the load
  # of the earlier sections is not in them): calls/s against the floor's,
  # p99, the server's CPU µs per call (which moves least with what else the
  # machine runs) and its resident memory after each. A ratio that falls,
  # CPU per call that rises, or memory that grows, is degradation; the
  # floor's figures moving is the machine.
  kill "${pids[@]}" 2>/dev/null || true
  sleep 1
  serve "$out/floor" 9305 epoll; fpid=${pids[-1]}
  serve "$out/server" 9306 netpoll; pid=${pids[-1]}
  sleep 0.5
  echo
  echo "| soak, netpoll, kv 64×16 | calls/s | floor calls/s | vs floor | p99 | CPU µs/call | floor CPU µs/call | server RSS |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  for k in 1 2 3 4 5 6; do
    f=$(load 9305 "$fpid" 3s -conns 64 -depth 16 -call kv)
    r=$(load 9306 "$pid" 10s -conns 64 -depth 16 -call kv)
    cps=$(echo "$r" | field 'calls/s'); fcps=$(echo "$f" | field 'calls/s')
    echo "| $((k * 10)) s | $cps | $fcps | $(ratio "$cps" "$fcps") | $(echo "$r" | field p99) | $(echo "$r" | field 'server_us/call') | $(echo "$f" | field 'server_us/call') | $(awk '/^VmRSS/{print $2 " KiB"}' "/proc/$pid/status") |"
  done
fi
