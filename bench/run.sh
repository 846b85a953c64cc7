#!/bin/bash
# Benchmark (not a test): CPU µs per answered cache-hit query for ours vs unbound, dnsdist,
# dnsmasq and the UDP reflector (the floor), interleaved, median of RUNS runs, as ratios; miss
# path over TCP (ours without cache → nsd over pipelined TCP); RSS with 10,000 cached names.
# usage: bench/run.sh [RUNS] [RATE] [SECONDS]      (needs root for taskset of other daemons: no)
set -u
H=$(cd "$(dirname "$0")" && pwd); D=${NLD_BENCH_DIR:-/tmp/nld-bench}; export NLD_BENCH_DIR=$D
RUNS=${1:-3}; RATE=${2:-100000}; SECS=${3:-5}
$H/peers.sh start || exit 1
trap '$H/peers.sh stop' EXIT
declare -A PID=([reflector]=$(cat $D/reflector.pid) [ours]=$(cat $D/ours.pid)
  [unbound]=$(cat $D/unbound.pid) [dnsdist]=$(cat $D/dnsdist.pid) [dnsmasq]=$(cat $D/dnsmasq.pid))
declare -A PORT=([reflector]=5399 [ours]=5356 [unbound]=5353 [dnsdist]=5354 [dnsmasq]=5355)
ORDER="reflector ours unbound dnsdist dnsmasq"
# Warm every cache with the 1,000 names (the reflector needs nothing).
for s in ours unbound dnsdist dnsmasq; do
  taskset -c 0 dnsperf -s 127.0.0.1 -p ${PORT[$s]} -d $D/hits.txt -n 2 -c 4 -q 200 >/dev/null 2>&1
done
declare -A RES
for r in $(seq 1 $RUNS); do
  for s in $ORDER; do
    out=$($H/cpu_per_query.sh ${PID[$s]} ${PORT[$s]} $D/hits.txt $RATE $SECS)
    us=$(echo "$out" | sed -n 's/.*cpu_us_per_query=\([0-9.]*\).*/\1/p')
    echo "run $r $s: $out"
    RES[$s]="${RES[$s]:-} $us"
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo; echo "== cache hits: CPU µs per answered query, median of $RUNS (rate $RATE q/s, ${SECS}s) =="
floor=$(echo ${RES[reflector]} | median)
for s in $ORDER; do
  m=$(echo ${RES[$s]} | median)
  printf '%-10s %6.2f µs  %5.2fx reflector   (runs:%s)\n' $s $m $(echo "$m/$floor" | bc -l) "${RES[$s]}"
done
echo; echo "== miss path over TCP: ours without cache → nsd, pipelined TCP upstream =="
for r in $(seq 1 $RUNS); do
  taskset -c 0 dnsperf -s 127.0.0.1 -p 5357 -d $D/all.txt -l $SECS -c 4 -q 500 -m udp 2>&1 \
    | awk '/Queries per second/{q=$4} /Queries lost/{l=$3} END {printf "udp clients, tcp upstream: qps=%.0f lost=%s\n", q, l}'
  taskset -c 0 dnsperf -s 127.0.0.1 -p 5357 -d $D/all.txt -l $SECS -c 4 -q 500 -m tcp 2>&1 \
    | awk '/Queries per second/{q=$4} /Queries lost/{l=$3} END {printf "tcp clients, tcp upstream: qps=%.0f lost=%s\n", q, l}'
done
echo; echo "== RSS after caching 10,000 names (VmRSS, KiB) =="
for s in ours unbound dnsdist dnsmasq; do
  before=$(awk '/VmRSS/{print $2}' /proc/${PID[$s]}/status)
  taskset -c 0 dnsperf -s 127.0.0.1 -p ${PORT[$s]} -d $D/all.txt -n 1 -c 4 -q 500 >/dev/null 2>&1
  after=$(awk '/VmRSS/{print $2}' /proc/${PID[$s]}/status)
  echo "$s: before=${before} after=${after}"
done
kill -USR1 ${PID[ours]}; sleep 0.5
grep -E '^coredns_cache_entries|^coredns_cache_(hits|misses)_total' $D/ours.log | head -5
