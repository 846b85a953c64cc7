#!/bin/bash
# Benchmark (not a test): TCP abuse figures of issue 10, in a throwaway network namespace.
#  1. one client pipelines N (default 1,000,000) queries for a cached 3 KB answer, never reads:
#     RSS growth of the server, and whether/when it is closed;
#  2. 1,100 slow-loris clients (one byte a second), then 5,000 idle clients, each for SECONDS,
#     reconnecting 1 s after the server closed them and then at once (a connection flood):
#     latency of a legitimate TCP client (connect+query+answer) and of UDP answers (p50/p99/max).
#  0. 100 connections: three pipelined queries, FIN, read to EOF: all answered?
# One worker (its 1,024-connection cap is what the attackers fill), default --tcp-* limits.
# usage: bench/tcp_abuse.sh [BUILD_DIR=build] [N=1000000] [SECONDS=10]
set -u
H=$(cd "$(dirname "$0")" && pwd); B=${1:-$H/../build}; N=${2:-1000000}; SECS=${3:-10}
B=$(cd "$B" && pwd)
SERVER=$B/tests/resolver/server/nld_bench_server; TOOL=$B/tests/resolver/server/nld_bench_tcp_abuse
[ -x "$SERVER" ] && [ -x "$TOOL" ] || { echo "build nld_bench_server and nld_bench_tcp_abuse first"; exit 1; }
NS=nld-tcp-abuse-$$; D=$(mktemp -d)
cleanup() { ip netns pids $NS 2>/dev/null | xargs -r kill 2>/dev/null; sleep 0.2; ip netns del $NS 2>/dev/null; rm -rf "$D"; }
trap cleanup EXIT
ip netns add $NS && ip -n $NS link set lo up || exit 1
in_ns() { nsenter --net=/run/netns/$NS "$@"; }  # not ip netns exec: it remounts /sys
cat > $D/Corefile <<CF
.:53 {
    cache 3600
    bind 127.0.0.1
    forward . 127.0.0.2:5300
}
CF
in_ns $TOOL upstream 127.0.0.2 5300 & sleep 0.3
in_ns $SERVER $D/Corefile 1 > $D/server.log 2>&1 &
for i in $(seq 50); do SPID=$(pgrep -n -f "^$SERVER $D/Corefile"); [ -n "$SPID" ] && break; sleep 0.1; done
for i in $(seq 50); do in_ns dig @127.0.0.1 -p 53 +tries=1 +time=1 +bufsize=4096 big.test TXT >/dev/null 2>&1 && break; sleep 0.1; done
echo "== warm: $(in_ns dig @127.0.0.1 +tcp +short big.test TXT | wc -c) bytes of TXT text over TCP"
echo "== 0. half-close (three queries, FIN)"
in_ns $TOOL halfclose 100 big.test
echo "== 1. pipelining without reading ($N queries)"
in_ns $TOOL pipeline $SPID $N big.test
echo "== 2. slow-loris (1,100 clients, one byte a second; closed ones come back 1 s later, then at once)"
in_ns $TOOL loris 1100 $SECS big.test 1000
in_ns $TOOL loris 1100 $SECS big.test 0
echo "== 3. idle (5,000 clients; closed ones come back 1 s later, then at once)"
in_ns $TOOL idle 5000 $SECS big.test 1000
in_ns $TOOL idle 5000 $SECS big.test 0
echo "== server RSS after: $(grep VmRSS /proc/$SPID/status | awk '{print $2}') KiB"
kill -USR1 $SPID; sleep 0.3; grep '^nodelocaldns_tcp' $D/server.log | grep -v ' 0$'
