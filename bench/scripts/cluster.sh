#!/bin/bash
# Throughput through a stompede cluster on this machine: 3 nats-server (JetStream, R=$REPLICAS)
# and NODES stompede nodes (1 or 3), with one stompede-bench per node run at the same time,
# each on its own queue (or topic) through its node, so the load is spread over the nodes.
# Everything shares this machine's cores: figures are for comparison, not capacity.
#
# usage: bench/scripts/cluster.sh NODES SCENARIO [bench options]
# example:
#   cargo build --release -p stompede -p stompede-bench
#   bench/scripts/cluster.sh 3 queue --duration 5 --ack client-individual
set -euo pipefail
nodes=$1; shift
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
broker=$target/release/stompede
bench=$target/release/stompede-bench
replicas=${REPLICAS:-3}
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
routes='"nats-route://127.0.0.1:16201","nats-route://127.0.0.1:16202","nats-route://127.0.0.1:16203"'
for i in 1 2 3; do
  cat >"$dir/n$i.conf" <<CONF
server_name: n$i
listen: 127.0.0.1:1610$i
http: 127.0.0.1:1630$i
jetstream { store_dir: "$dir/js$i" }
cluster { name: bench, listen: 127.0.0.1:1620$i, routes: [$routes] }
CONF
  nats-server -c "$dir/n$i.conf" >"$dir/n$i.log" 2>&1 & pids+=($!)
done
for i in 1 2 3; do
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:1630$i/healthz" >/dev/null && break; sleep 0.1; done
done
for n in $(seq "$nodes"); do
  mkdir -p "$dir/s$n"
  cat >"$dir/s$n.toml" <<CONF
[listeners]
stomp = "127.0.0.1:1640$n"
http = "127.0.0.1:1650$n"
websocket = "127.0.0.1:1660$n"
[storage]
dir = "$dir/s$n"
[cluster]
enabled = true
nats_urls = ["nats://127.0.0.1:16101", "nats://127.0.0.1:16102", "nats://127.0.0.1:16103"]
node = "node$n"
replicas = $replicas
CONF
  "$broker" --config "$dir/s$n.toml" >"$dir/s$n.log" 2>&1 & pids+=($!)
done
for n in $(seq "$nodes"); do
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:1650$n/readyz" >/dev/null && break; sleep 0.1; done
done
runs=()
for n in $(seq "$nodes"); do
  "$bench" "$@" --port "1640$n" --queue-prefix "/queue/n$n-" --topic-prefix "/topic/n$n-" \
    >"$dir/bench$n.txt" 2>&1 & runs+=($!)
done
status=0
for r in "${runs[@]}"; do wait "$r" || status=1; done
for n in $(seq "$nodes"); do echo "== node$n"; cat "$dir/bench$n.txt"; done
exit $status
