# Sourced by bench/run.sh and bench/ab.sh: the helpers both use. They need
# $out (the directory of the built programs) and the array pids (the
# servers started, which the caller kills on exit); check and warn_summary
# share the array warnings.

# field NAME: the value of NAME=VALUE in the line on stdin.
field() { sed -E "s#.*$1=([^ ]+).*#\\1#"; }
# ratio A B: A/B with two decimals.
ratio() { awk "BEGIN{printf \"%.2f\", $1/$2}"; }
# load PORT PID DURATION ARGS...: one load run; loadgen's summary line, with
# the server's CPU use, CPU µs/call and system calls per call (from
# /proc/PID) over the measured window.
load() {
  taskset -c 1 "$out/loadgen" -url "ws://127.0.0.1:$1/ws/" -pid "$2" -duration "$3" -warmup 0.5s "${@:4}" | tail -1
}
# serve BIN PORT ENGINE [ARGS...]: BIN on 127.0.0.1:PORT pinned to CPU 0,
# its pid appended to pids.
serve() {
  taskset -c 0 "$1" -addr "127.0.0.1:$2" -engine "$3" "${@:4}" >/dev/null 2>&1 &
  pids+=($!)
}
# idle LABEL BIN ENGINE [ARGS...]: a fresh BIN on its own port holding
# ${CONNS:-19000} idle connections: the load generator's line of idle
# memory per connection, then BIN stopped.
idle() {
  taskset -c 0 "$2" -addr 127.0.0.1:9307 -engine "$3" "${@:4}" >/dev/null 2>&1 &
  local pid=$!
  sleep 0.5
  echo "idle, $1: $(taskset -c 1 "$out/loadgen" -url ws://127.0.0.1:9307/ws/ -idle -conns "${CONNS:-19000}" -pid $pid -sources 4 | tail -1)"
  kill $pid; wait $pid 2>/dev/null || true
  sleep 1
}

warnings=()
# check NAME LINE: a generator at >= 95% of its core beside a server below
# 95% means the generator set the pace.
# Sets mark to " ⚠" then, and adds a warning.
check() {
  local g s
  mark=
  g=$(echo "$2" | field gen_cpu | tr -d %); s=$(echo "$2" | field server_cpu | tr -d %)
  if awk "BEGIN{exit !($g >= 95 && $s < 95)}"; then
    warnings+=("$1: the generator was the bottleneck (generator ${g}% busy, server ${s}%): its calls/s are the generator's, not the server's")
    mark=" ⚠"
  fi
}
# warn_summary: the warnings check gathered, loudly, if any.
warn_summary() {
  if [ ${#warnings[@]} -gt 0 ]; then
    echo
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    echo "!!! WARNING: in ${#warnings[@]} row(s) (marked ⚠) the load generator was the bottleneck:"
    printf '!!!   %s\n' "${warnings[@]}"
    echo "!!! Compare CPU µs/call in those rows, not calls/s; run on a quieter machine."
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  fi
}
