#!/usr/bin/env bash
# A cluster of separate processes measured from outside: NATS (examples/
# cluster/natsd, built from the module) with monitoring, three nodes of
# examples/cluster (n1-n3), and examples/cluster/clusterbench, which drives
# same-node and cross-node calls, reads each process's CPU from /proc, n3's
# memory while 15,000 clients sit on n1 and n2, and NATS's /varz.
#
#   scripts/cluster-bench.sh                  # 16 callers, 20,000 calls a phase
#   CALLERS=16,64 CALLS=40000 CLIENTS=15000 scripts/cluster-bench.sh
#
# Everything listens on free loopback ports and stops when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
bin=$(mktemp -d)
logs=$bin/logs
mkdir -p "$logs"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$bin"
}
trap cleanup EXIT INT TERM

$GO build -o "$bin/natsd" ./examples/cluster/natsd
$GO build -o "$bin/node" ./examples/cluster
$GO build -o "$bin/clusterbench" ./examples/cluster/clusterbench

# wait_for FILE PATTERN: the first match of PATTERN (sed -E, one group) in
# the log FILE, within 20 s.
wait_for() {
	for _ in $(seq 200); do
		if v=$(sed -nE "s|$2|\1|p" "$1" | head -1) && [ -n "$v" ]; then
			echo "$v"
			return
		fi
		sleep 0.1
	done
	echo "cluster-bench: nothing matched $2 in $1:" >&2
	cat "$1" >&2
	exit 1
}

"$bin/natsd" -addr 127.0.0.1:0 -monitor 127.0.0.1:0 2>"$logs/natsd" &
pids+=($!)
nats_pid=$!
nats=$(wait_for "$logs/natsd" '^natsd: NATS listening on (.*)$')
varz=$(wait_for "$logs/natsd" '^natsd: monitoring on (.*)$')

WSRPC_CLUSTER_SECRET=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
export WSRPC_CLUSTER_SECRET
urls=()
procs="nats=$nats_pid"
for n in n1 n2 n3; do
	# -insecure-ids: the driver picks the ids it calls (a measurement only).
	"$bin/node" -node $n -addr 127.0.0.1:0 -nats "$nats" -insecure-ids 2>"$logs/$n" &
	pids+=($!)
	procs="$procs,$n=$!"
	urls+=("$(wait_for "$logs/$n" '.*url=(ws://[^ ]*).*')")
done
echo "NATS $nats ($varz); nodes ${urls[*]}"

"$bin/clusterbench" -nodes "$(IFS=,; echo "${urls[*]}")" -pids "$procs" -varz "$varz" \
	-callers "${CALLERS:-16}" -calls "${CALLS:-20000}" -clients "${CLIENTS:-15000}"
