#!/bin/bash
# Benchmark (not a test): /health latency of a running `nodelocaldns run` while 100 idle and
# slow connections are held open against its health port (bench/http_stall.py), in a private
# network namespace on loopback (needs root for unshare -n; nothing leaves the namespace).
#   usage: bench/http_stall.sh [BINARY=build/nodelocaldns] [SECONDS=60] [IDLE=50] [SLOW=50]
# Prints one line: probes, failures (not 200 or over kubelet's 5 s timeout), p50/p99/max.
set -eu
H=$(cd "$(dirname "$0")" && pwd)
BIN=$(realpath "${1:-$H/../build/nodelocaldns}")
SECS=${2:-60} IDLE=${3:-50} SLOW=${4:-50}
exec unshare -n bash -s "$BIN" "$SECS" "$IDLE" "$SLOW" "$H" <<'IN_NETNS'
set -eu
BIN=$1 SECS=$2 IDLE=$3 SLOW=$4 H=$5
ip link set lo up
D=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$D"' EXIT
cat > "$D/Corefile" <<CF
.:53 {
    bind 127.0.0.1
    cache 30
    forward . 127.0.0.2:53
    health 127.0.0.1:8080
}
CF
"$BIN" run -localip 127.0.0.1 -setupinterface=false -setupiptables=false -conf "$D/Corefile" \
  -basecorefile "$D/none" -pidfile "$D/pid" -metrics-listen-address 127.0.0.1:9353 \
  --workers 1 > "$D/log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -s "$D/pid" ] && break; sleep 0.1; done
[ -s "$D/pid" ] || { cat "$D/log"; exit 1; }
python3 "$H/http_stall.py" 127.0.0.1 8080 "$SECS" "$IDLE" "$SLOW"
IN_NETNS
