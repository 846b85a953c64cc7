#!/usr/bin/env python3
"""Regenerates tests/fuzz/corpus/: seed inputs for fuzz_parse_query.

Three kinds of files, all small:
  q_*  queries as clients send them (EDNS, DO, cookies, mixed case, odd types and classes);
  r_*  real responses from nsd (started here on 127.0.0.1, a kube-dns-like zone), captured
       byte for byte: compression, SOA in authority, glue, a large TXT;
  x_*  hand-made malformed messages (pointer loops, forward pointers, truncation, bad OPT).
Run: python3 tests/fuzz/make_corpus.py  (needs nsd; only touches 127.0.0.1 and a temp dir).
"""
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")

A, NS, CNAME, SOA, PTR, MX, TXT, AAAA, SRV, OPT, ANY, AXFR = 1, 2, 5, 6, 12, 15, 16, 28, 33, 41, 255, 252


def name(text):
    out = b""
    for label in text.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def header(qid, flags, qd, an, ns, ar):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def opt(udp=1232, do=False, version=0, options=b""):
    ttl = (version << 16) | (0x8000 if do else 0)
    return b"\0" + struct.pack("!HHIH", OPT, udp, ttl, len(options)) + options


def query(qname, qtype, qid=None, rd=True, cd=False, edns=None, qclass=1):
    qid = random.randrange(65536) if qid is None else qid
    flags = (0x0100 if rd else 0) | (0x0010 if cd else 0)
    ar = 1 if edns is not None else 0
    msg = header(qid, flags, 1, 0, 0, ar) + name(qname) + struct.pack("!HH", qtype, qclass)
    if edns is not None:
        msg += edns
    return msg


ZONE = """$ORIGIN cluster.local.
$TTL 30
@        IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5
@        IN NS  ns.dns.cluster.local.
ns.dns   IN A   10.96.0.10
kube-dns.kube-system.svc IN A 10.96.0.10
kubernetes.default.svc   IN A 10.96.0.1
web.default.svc          IN A 10.244.1.5
web.default.svc          IN A 10.244.2.7
web.default.svc          IN AAAA fd00::5
alias.default.svc        IN CNAME web.default.svc.cluster.local.
_http._tcp.web.default.svc IN SRV 0 50 80 web.default.svc.cluster.local.
sub                      IN NS ns1.sub.cluster.local.
ns1.sub                  IN A 10.0.0.53
big.default.svc          IN TXT "{big1}" "{big2}" "{big3}"
mx.default.svc           IN MX 10 mail.default.svc.cluster.local.
""".format(big1="a" * 250, big2="b" * 250, big3="c" * 250)

REVERSE = """$ORIGIN 10.in-addr.arpa.
$TTL 30
@          IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5
@          IN NS  ns.dns.cluster.local.
10.0.96    IN PTR kube-dns.kube-system.svc.cluster.local.
"""


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def capture_real(write):
    if shutil.which("nsd") is None:
        print("nsd not found: skipping real responses", file=sys.stderr)
        return
    tmp = tempfile.mkdtemp(prefix="nld-corpus-")
    port = free_port()
    with open(os.path.join(tmp, "cluster.local.zone"), "w") as f:
        f.write(ZONE)
    with open(os.path.join(tmp, "10.in-addr.arpa.zone"), "w") as f:
        f.write(REVERSE)
    conf = f"""server:
  ip-address: 127.0.0.1@{port}
  port: {port}
  username: ""
  chroot: ""
  zonesdir: "{tmp}"
  pidfile: "{tmp}/nsd.pid"
  database: ""
  zonelistfile: "{tmp}/zone.list"
  xfrdfile: "{tmp}/xfrd.state"
  xfrdir: "{tmp}"
  logfile: "{tmp}/nsd.log"
  server-count: 1
  verbosity: 0
remote-control:
  control-enable: no
zone:
  name: cluster.local
  zonefile: cluster.local.zone
zone:
  name: 10.in-addr.arpa
  zonefile: 10.in-addr.arpa.zone
"""
    with open(os.path.join(tmp, "nsd.conf"), "w") as f:
        f.write(conf)
    proc = subprocess.Popen(["nsd", "-d", "-c", os.path.join(tmp, "nsd.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(0.5)
        deadline = time.time() + 10
        probe = query("cluster.local", SOA, qid=1)
        while True:  # poll until nsd answers
            try:
                sock.sendto(probe, ("127.0.0.1", port))
                sock.recvfrom(65535)
                break
            except socket.timeout:
                if time.time() > deadline:
                    raise RuntimeError("nsd did not start")
        asks = [
            ("kubernetes.default.svc.cluster.local", A, None),
            ("Web.Default.SVC.cluster.local", A, opt(1232)),
            ("web.default.svc.cluster.local", AAAA, opt(4096, do=True)),
            ("alias.default.svc.cluster.local", A, None),
            ("_http._tcp.web.default.svc.cluster.local", SRV, opt()),
            ("nope.default.svc.cluster.local", A, None),          # NXDOMAIN + SOA
            ("web.default.svc.cluster.local", MX, opt()),         # NODATA
            ("host.sub.cluster.local", A, None),                  # delegation with glue
            ("big.default.svc.cluster.local", TXT, opt(4096)),    # large
            ("big.default.svc.cluster.local", TXT, None),         # TC over UDP
            ("10.0.96.10.in-addr.arpa", PTR, None),
            ("cluster.local", SOA, opt()),
            ("cluster.local", NS, None),
            ("mx.default.svc.cluster.local", MX, opt()),
            ("example.com", A, None),                             # REFUSED (not our zone)
            ("cluster.local", ANY, opt()),
        ]
        for i, (qn, qt, e) in enumerate(asks):
            q = query(qn, qt, qid=100 + i, edns=e)
            sock.sendto(q, ("127.0.0.1", port))
            resp, _ = sock.recvfrom(65535)
            write(f"r_{i:02d}_{qn.split('.')[0]}_{qt}", resp)
            write(f"q_real_{i:02d}", q)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


def synthetic(write):
    write("q_a", query("www.example.com", A, qid=1))
    write("q_aaaa_edns", query("www.example.com", AAAA, qid=2, edns=opt(1232)))
    write("q_do_cd", query("dnssec.example", A, qid=3, cd=True, edns=opt(4096, do=True)))
    write("q_cookie", query("c.example", A, qid=4, edns=opt(1232, options=struct.pack("!HH", 10, 8) + b"12345678")))
    write("q_mixed_case", query("KuBeRnEtEs.DeFaUlT.svc.Cluster.Local", A, qid=5))
    write("q_root_ns", query(".", NS, qid=6))
    write("q_chaos", query("version.bind", TXT, qid=7, qclass=3))
    write("q_axfr", query("cluster.local", AXFR, qid=8))
    write("q_ptr", query("10.0.96.10.in-addr.arpa", PTR, qid=9))
    write("q_small_edns", query("a.example", A, qid=10, edns=opt(100)))
    write("q_long_name", query(".".join(["x" * 63] * 3 + ["y" * 61]), A, qid=11))
    # Malformed.
    write("x_badvers", query("a.example", A, qid=20, edns=opt(1232, version=1)))
    write("x_two_opt", header(21, 0x0100, 1, 0, 0, 2) + name("a.example") + b"\0\1\0\1" + opt() + opt())
    write("x_qd0", header(22, 0x0100, 0, 0, 0, 0))
    write("x_qd2", header(23, 0x0100, 2, 0, 0, 0) + name("a.example") + b"\0\1\0\1" + name("b") + b"\0\1\0\1")
    write("x_header_only", header(24, 0, 1, 0, 0, 0))
    write("x_short", b"\x12\x34\x01")
    write("x_trailing", query("a.example", A, qid=25) + b"\xde\xad")
    write("x_self_pointer", header(26, 0, 1, 0, 0, 0) + b"\xc0\x0c\0\1\0\1")
    write("x_header_pointer", header(27, 0, 1, 0, 0, 0) + b"\xc0\x02\0\1\0\1")
    write("x_forward_pointer", header(28, 0, 1, 0, 0, 0) + b"\x01a\xc0\x14\0\1\0\1\x00")
    loop = header(29, 0x8180, 1, 1, 0, 0) + name("a.example") + b"\0\1\0\1"
    at = len(loop)
    loop += bytes([1, ord("x"), 0xC0, at]) + b"\0\1\0\1\0\0\0\x3c\0\4\1\2\3\4"
    write("x_answer_loop", loop)
    write("x_label64", header(30, 0, 1, 0, 0, 0) + b"\x40" + b"z" * 64 + b"\0\0\1\0\1")
    write("x_opt_owner", header(31, 0x0100, 1, 0, 0, 1) + name("a.example") + b"\0\1\0\1" + b"\x01x" + opt())
    write("x_opt_in_answer", header(32, 0x0100, 1, 1, 0, 0) + name("a.example") + b"\0\1\0\1" + opt())
    write("x_opt_overrun", query("a.example", A, qid=33, edns=opt(options=b"\0\x0a\0\x09\1\2")))
    write("x_notify", struct.pack("!HHHHHH", 34, 0x2000, 1, 0, 0, 0) + name("cluster.local") + b"\0\6\0\1")
    write("x_response_as_query", header(35, 0x8180, 1, 0, 0, 0) + name("a.example") + b"\0\1\0\1")
    good = query("truncate.example", A, qid=36, edns=opt(1232, do=True))
    write("x_truncated_mid_opt", good[:-4])
    # A compressed response, hand-made: CNAME chain + SOA + OPT in the middle of additional.
    r = header(37, 0x8180, 1, 2, 1, 2) + name("www.example.com") + b"\0\1\0\1"
    r += b"\xc0\x0c" + struct.pack("!HHIH", CNAME, 1, 300, 6) + b"\x03web\xc0\x10"
    r += b"\xc0\x2d" + struct.pack("!HHIH", A, 1, 60, 4) + bytes([192, 0, 2, 1])
    soa_rdata = b"\x02ns\xc0\x10\x0ahostmaster\xc0\x10" + struct.pack("!IIIII", 1, 2, 3, 4, 5)
    r += b"\xc0\x10" + struct.pack("!HHIH", SOA, 1, 900, len(soa_rdata)) + soa_rdata
    r += opt(1232)
    r += b"\xc0\x2d" + struct.pack("!HHIH", A, 1, 60, 4) + bytes([192, 0, 2, 2])
    write("r_handmade_opt_middle", r)


def main():
    random.seed(4)
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.unlink(os.path.join(OUT, f))
    count = 0

    def write(fname, data):
        nonlocal count
        with open(os.path.join(OUT, fname), "wb") as f:
            f.write(data)
        count += 1

    synthetic(write)
    capture_real(write)
    print(f"wrote {count} files to {OUT}")


if __name__ == "__main__":
    main()
