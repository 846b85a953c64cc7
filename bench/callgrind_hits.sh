#!/bin/bash
# usage: callgrind_hits.sh BENCH_SERVER [QUERIES_A] [QUERIES_B] [auto|epoll]
# Instructions per cache hit of nld_bench_server, independent of the machine's load (unlike
# cpu_per_query.sh): the server runs under callgrind with one worker in a private network
# namespace, a Python upstream answers the one miss, a Python client sends QUERIES_A then (in a
# second run) QUERIES_B hits 32 at a time; (Ir_B - Ir_A) / (QUERIES_B - QUERIES_A) cancels start-up,
# the miss and shutdown. Needs root (unshare -n) and valgrind.
set -u
if [ "${NLD_IN_NETNS:-}" != 1 ]; then
  exec unshare -n env NLD_IN_NETNS=1 "$0" "$@"
fi
ip link set lo up
SERVER=$1; A=${2:-5000}; B=${3:-25000}; MODE=${4:-auto}
D=$(mktemp -d); trap 'rm -rf $D' EXIT
printf '.:5356 {\n    bind 127.0.0.1\n    cache 3600\n    forward . 127.0.0.1:5399\n}\n' > $D/Corefile
cat > $D/upstream.py <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 5399))
while True:
    q, peer = s.recvfrom(4096)
    end = 12
    while q[end] != 0: end += q[end] + 1
    end += 5
    r = bytearray(q[:end]); r[2] |= 0x80; r[3] = 0x80; r[6:12] = b"\x00\x01\x00\x00\x00\x00"
    r += b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04\xc0\x00\x02\x07"
    s.sendto(bytes(r), peer)
PY
cat > $D/client.py <<'PY'
import socket, sys, time
n = int(sys.argv[1]); s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(10)
q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03org\x00\x00\x01\x00\x01"
for _ in range(100):  # until the server is up (callgrind starts slowly)
    try:
        s.sendto(q, ("127.0.0.1", 5356)); s.recv(512); break
    except OSError: time.sleep(0.2)
sent = got = 0
while got < n:
    k = min(32, n - sent)
    for _ in range(k): s.sendto(q, ("127.0.0.1", 5356))
    sent += k
    for _ in range(k): s.recv(512); got += 1
PY
python3 $D/upstream.py & UP=$!
ir() {
  valgrind --tool=callgrind --callgrind-out-file=$D/cg.$1 "$SERVER" $D/Corefile 1 $MODE \
    >/dev/null 2>&1 & local pid=$!
  python3 $D/client.py $1
  kill -TERM $pid; wait $pid 2>/dev/null
  callgrind_annotate $D/cg.$1 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1}'
}
ia=$(ir $A); ib=$(ir $B)
kill $UP
echo "Ir($A)=$ia Ir($B)=$ib instructions_per_hit=$(( (ib - ia) / (B - A) ))"
