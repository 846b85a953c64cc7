#!/bin/bash
# Copied from ../shared/bench/peers.sh, extended: 10,000 services (hits.txt = the first 1,000,
# all.txt = all 10,000 for the RSS measurement) and our server (nld_bench_server) on :5356 plus a
# cache-less instance on :5357 (miss path over TCP).  usage: peers.sh start|stop
# kube-dns stand-in: nsd 127.0.0.2:5300. Peers on 127.0.0.1: unbound :5353, dnsdist :5354,
# dnsmasq :5355, ours :5356 (+ :5357 no cache), reflector :5399 — all pinned to CPU 1.
D=${NLD_BENCH_DIR:-/tmp/nld-bench}; H=$(cd "$(dirname "$0")" && pwd)
SRV=${NLD_BENCH_SERVER:-$H/../build/tests/resolver/server/nld_bench_server}
stop() { for f in $D/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; rm -f "$f"; done; sleep 1; }
[ "$1" = stop ] && { stop; exit 0; }
[ -x "$SRV" ] || { echo "build nld_bench_server first (or set NLD_BENCH_SERVER)"; exit 1; }
stop; mkdir -p $D; cd $D || exit 1
python3 - <<'PY'
z = ["$ORIGIN cluster.local.", "$TTL 30",
     "@ IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5",
     "@ IN NS ns.dns.cluster.local.", "ns.dns IN A 10.96.0.10"]
z += [f"svc{i}.default.svc IN A 10.{96 + i // 62500}.{(i // 250) % 250}.{i % 250 + 1}" for i in range(1, 10001)]
z.append("big.default.svc IN TXT " + " ".join('"' + "x" * 100 + '"' for _ in range(30)))
open("cluster.local.zone", "w").write("\n".join(z) + "\n")
open("hits.txt", "w").write("".join(f"svc{i}.default.svc.cluster.local A\n" for i in range(1, 1001)))
open("all.txt", "w").write("".join(f"svc{i}.default.svc.cluster.local A\n" for i in range(1, 10001)))
PY
sed "s#@DIR@#$D#g" $H/nsd.conf > nsd.conf; sed "s#@DIR@#$D#g" $H/unbound.conf > unbound.conf
cat > Corefile <<'CF'
cluster.local:5356 {
    errors
    cache {
            success 9984 30
            denial 9984 5
    }
    bind 127.0.0.1
    forward . 127.0.0.2:5300 {
            force_tcp
    }
    prometheus :9253
}
CF
cat > Corefile.nocache <<'CF'
cluster.local:5357 {
    bind 127.0.0.1
    forward . 127.0.0.2:5300 {
            force_tcp
    }
}
CF
nsd -c nsd.conf || exit 1
taskset -c 1 unbound -c unbound.conf || exit 1
taskset -c 1 dnsdist --supervised -C $H/dnsdist.conf >dnsdist.log 2>&1 & echo $! > dnsdist.pid
taskset -c 1 dnsmasq --port=5355 --listen-address=127.0.0.1 --bind-interfaces --no-resolv \
  --server=/cluster.local/127.0.0.2#5300 --cache-size=10000 --pid-file=$D/dnsmasq.pid --user=root --dns-forward-max=1000
gcc -O2 -o reflector $H/udp_reflector.c && { taskset -c 1 ./reflector 5399 & echo $! > reflector.pid; }
taskset -c 1 "$SRV" Corefile >ours.log 2>&1 & echo $! > ours.pid
taskset -c 1 "$SRV" Corefile.nocache >ours-nocache.log 2>&1 & echo $! > ours-nocache.pid
sleep 1; for p in 5353 5354 5355 5356 5357; do dig +short @127.0.0.1 -p $p svc1.default.svc.cluster.local >/dev/null; done
echo "peers up in $D"
