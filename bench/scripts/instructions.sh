#!/bin/bash
# Instructions a broker executes per message, counted by callgrind: unlike
# wall-clock rates this repeats within a fraction of a percent on a shared,
# noisy machine, so two builds can be compared one after the other.
#
# usage: bench/scripts/instructions.sh BROKER_BIN N1 N2 SCENARIO [bench options]
#   runs SCENARIO with --count N1 and then --count N2 against a fresh broker
#   under valgrind each time, and prints (I(N2) - I(N1)) / (N2 - N1):
#   the broker's instructions per message with start-up and shutdown removed.
# example:
#   cargo build --release --workspace
#   bench/scripts/instructions.sh target/release/stompede 20000 60000 queue
set -euo pipefail
broker=$(realpath "$1"); n1=$2; n2=$3; shift 3
bench=$(realpath "${STOMPEDE_BENCH:-$(dirname "$0")/../../target/release/stompede-bench}")
port=${PORT:-61699}
count() {
    local dir; dir=$(mktemp -d)
    (cd "$dir" && STOMPEDE__LISTENERS__STOMP=127.0.0.1:$port \
        STOMPEDE__LISTENERS__HTTP=127.0.0.1:0 STOMPEDE__LISTENERS__WEBSOCKET=127.0.0.1:0 \
        STOMPEDE__BROKER__WORKERS=1 \
        exec valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" "$broker" >"$dir/broker.log" 2>&1) &
    local pid=$!
    for _ in $(seq 300); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
    "$bench" "$@" --port "$port" --timeout 60 >"$dir/bench.txt" 2>&1 || { cat "$dir/bench.txt" >&2; kill "$pid"; exit 1; }
    kill -INT "$pid"; wait "$pid" 2>/dev/null || true
    awk '/^summary:/ {print $2}' "$dir/cg.out"
    rm -rf "$dir"
}
i1=$(count "$@" --count "$n1")
i2=$(count "$@" --count "$n2")
echo "$(( (i2 - i1) / (n2 - n1) )) instructions per message ($*; I($n1)=$i1, I($n2)=$i2)"
