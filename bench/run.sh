#!/usr/bin/env bash
# Reproduces the README's performance table on this machine: the floor
# server, and the wsrpc benchmark server under both engines, each pinned to
# CPU 0 with the load generator on CPU 1, measured in the same run.
#   bash bench/run.sh            # throughput and latency (about 2 minutes)
#   IDLE=1 bash bench/run.sh     # also idle memory with 19,000 connections
#   IDLE=1 IDENTIFY=1 bash bench/run.sh  # the idle servers run with -identify
#   FANOUT=1 bash bench/run.sh   # also fan-out of events to 10,000 connections
#   FANOUT=1 FANOUT_ONLY=1 bash bench/run.sh  # the fan-out table alone
#   SOAK=1 bash bench/run.sh     # also 60 s of kv load on one netpoll server, beside the floor
#   SOAK=1 FANOUT_ONLY=1 bash bench/run.sh  # the fan-out and soak tables alone
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
go build -o "$out/floor" ./bench/cmd/floor
go build -o "$out/server" ./bench/cmd/server
go build -o "$out/loadgen" ./bench/cmd/loadgen
go build -o "$out/fanout" ./bench/cmd/fanout
DUR=${DUR:-5s}
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$out"; }
trap cleanup EXIT
field() { sed -E "s#.*$1=([^ ]+).*#\\1#"; }
ratio() { awk "BEGIN{printf \"%.2f\", $1/$2}"; }
if [ "${FANOUT_ONLY:-0}" != 1 ]; then
taskset -c 0 "$out/floor" -addr 127.0.0.1:9301 >/dev/null 2>&1 & pids+=($!)
taskset -c 0 "$out/server" -addr 127.0.0.1:9302 -engine netpoll >/dev/null 2>&1 & pids+=($!)
taskset -c 0 "$out/server" -addr 127.0.0.1:9303 -engine goroutine >/dev/null 2>&1 & pids+=($!)
sleep 1
fpid=${pids[0]}
# load PORT PID ARGS...: one load run; prints loadgen's summary line followed
# by " sys/call=N", the server's read and write system calls (/proc/PID/io
# syscr + syscw) during the run divided by the calls it answered (the load
# runs without warm-up so that both count the same calls).
load() {
  local before after r calls
  before=$(awk '/^sysc[rw]/{s+=$2} END{print s}' "/proc/$2/io")
  r=$(taskset -c 1 "$out/loadgen" -url "ws://127.0.0.1:$1/ws/" -duration "$DUR" -warmup 0s "${@:3}" | tail -1)
  after=$(awk '/^sysc[rw]/{s+=$2} END{print s}' "/proc/$2/io")
  calls=$(echo "$r" | sed -E 's#^calls=([0-9]+).*#\1#')
  echo "$r sys/call=$(awk "BEGIN{printf \"%.2f\", ($after-$before)/$calls}")"
}
# ms converts loadgen's durations (1.2ms, 850µs, 1.1s) to milliseconds.
ms() { awk -v d="$1" 'BEGIN{ if (d ~ /µs$/) { sub(/µs$/, "", d); print d/1000 } else if (d ~ /ms$/) { sub(/ms$/, "", d); print d+0 } else if (d ~ /ns$/) { sub(/ns$/, "", d); print d/1e6 } else { sub(/s$/, "", d); print d*1000 } }'; }
name() { case $1 in 9302) echo "wsrpc netpoll";; 9303) echo "wsrpc goroutine";; esac; }
# Each wsrpc row is measured right after a floor run of the same shape and
# its ratios are to that run: the machine's speed drifts over a minute, and
# adjacent runs see the same machine. One connection at a time, where a run
# is a few µs of work per call and noise is the largest part of the
# spread, each row is the median of three floor/server pairs.
echo "| server | call | conns×depth | calls/s | floor calls/s | vs floor | p50 | floor p50 | p50 vs floor | p99 | syscalls/call | floor syscalls/call |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
# median3 A B C
median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
for i in 1 2; do
  port=$((9301 + i)); pid=${pids[$i]}
  for call in subtract kv; do
    f=$(load 9301 "$fpid" -conns 64 -depth 16)
    r=$(load $port "$pid" -conns 64 -depth 16 -call $call)
    cps=$(echo "$r" | field 'calls/s'); fcps=$(echo "$f" | field 'calls/s')
    echo "| $(name $port) | $call | 64×16 | $cps | $fcps | $(ratio "$cps" "$fcps") | $(echo "$r" | field p50) | $(echo "$f" | field p50) | — | $(echo "$r" | field p99) | $(echo "$r" | field sys/call) | $(echo "$f" | field sys/call) |"
  done
done
for i in 1 2; do
  port=$((9301 + i)); pid=${pids[$i]}
  rs=(); ps=(); lines=()
  for k in 1 2 3; do
    f=$(load 9301 "$fpid" -conns 1 -depth 1)
    r=$(load $port "$pid" -conns 1 -depth 1)
    rs+=("$(ratio "$(echo "$r" | field 'calls/s')" "$(echo "$f" | field 'calls/s')")")
    ps+=("$(ratio "$(ms "$(echo "$r" | field p50)")" "$(ms "$(echo "$f" | field p50)")")")
    lines+=("$r|$f")
  done
  # The pair whose p50 ratio is the median stands for the row.
  mp=$(median3 "${ps[@]}")
  for k in 0 1 2; do [ "${ps[$k]}" = "$mp" ] && break; done
  r=${lines[$k]%%|*}; f=${lines[$k]#*|}
  echo "| $(name $port) | subtract | 1×1 | $(echo "$r" | field 'calls/s') | $(echo "$f" | field 'calls/s') | $(median3 "${rs[@]}") | $(echo "$r" | field p50) | $(echo "$f" | field p50) | $mp | $(echo "$r" | field p99) | $(echo "$r" | field sys/call) | $(echo "$f" | field sys/call) |"
done
fi
if [ "${IDLE:-0}" = 1 ]; then
  ulimit -n 20000
  kill "${pids[@]}" 2>/dev/null || true
  sleep 1
  for engine in netpoll goroutine; do
    taskset -c 0 "$out/server" -addr 127.0.0.1:9304 -engine $engine ${IDENTIFY:+-identify} >/dev/null 2>&1 &
    pid=$!
    sleep 0.5
    echo "idle, $engine: $(taskset -c 1 "$out/loadgen" -url ws://127.0.0.1:9304/ws/ -idle -conns ${CONNS:-19000} -pid $pid -sources 4 | tail -1)"
    kill $pid
    sleep 1
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
      echo "| $name | $burst | $(echo "$r" | field 'events/s') | $dps | $(awk "BEGIN{printf \"%.2f\", $dps/$fdps}") | $(echo "$s" | field 'allocs/recipient') |"
      sleep 1
    done
  done
fi
if [ "${SOAK:-0}" = 1 ]; then
  # 60 s of the kv load on one netpoll server, in six 10 s runs, each after
  # a 3 s floor run (a fresh floor server, so that the load of the earlier
  # sections is not in it): calls/s against the floor's, p99 and the
  # wsrpc server's resident memory after each. A ratio that falls, or memory
  # that grows, is degradation; the floor's calls/s moving is the machine.
  # CPU µs/call (the server's user + system time over the run, per call)
  # moves least with what else the machine runs.
  kill "${pids[@]}" 2>/dev/null || true
  sleep 1
  taskset -c 0 "$out/floor" -addr 127.0.0.1:9305 >/dev/null 2>&1 & pids+=($!)
  taskset -c 0 "$out/server" -addr 127.0.0.1:9306 -engine netpoll >/dev/null 2>&1 & pids+=($!)
  pid=$!
  sleep 0.5
  echo
  echo "| soak, netpoll, kv 64×16 | calls/s | floor calls/s | vs floor | p99 | CPU µs/call | server RSS |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
  for k in 1 2 3 4 5 6; do
    f=$(taskset -c 1 "$out/loadgen" -url ws://127.0.0.1:9305/ws/ -duration 3s -warmup 0s -conns 64 -depth 16 | tail -1)
    t0=$(ticks "$pid")
    r=$(taskset -c 1 "$out/loadgen" -url ws://127.0.0.1:9306/ws/ -duration 10s -warmup 0s -conns 64 -depth 16 -call kv | tail -1)
    t1=$(ticks "$pid")
    cps=$(echo "$r" | field 'calls/s'); fcps=$(echo "$f" | field 'calls/s')
    calls=$(echo "$r" | sed -E 's#^calls=([0-9]+).*#\1#')
    cpu=$(awk -v t="$((t1 - t0))" -v n="$calls" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", t / hz * 1e6 / n}')
    echo "| $((k * 10)) s | $cps | $fcps | $(ratio "$cps" "$fcps") | $(echo "$r" | field p99) | $cpu | $(awk '/^VmRSS/{print $2 " KiB"}' "/proc/$pid/status") |"
  done
fi
