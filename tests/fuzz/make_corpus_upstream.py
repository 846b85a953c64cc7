#!/usr/bin/env python3
"""Regenerates tests/fuzz/corpus_upstream/: seeds for fuzz_upstream_answer.

Each file is two control bytes (client EDNS/DO/CD/UDP size/casing; seconds until the cache is
read) followed by an upstream answer: the real nsd responses of tests/fuzz/corpus/r_* and
hand-made ones (a signed NXDOMAIN with NSEC proofs, a 30-address RRset, REFUSED with a cookie,
OPT in the middle of the additional section, an extended rcode).
crash_* files (libFuzzer reproducers, added by hand once fixed) are kept.
Run: python3 tests/fuzz/make_corpus_upstream.py
"""
import os
import struct

from make_corpus import name  # the same wire-name helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus_upstream")
A, NS, SOA, OPT, RRSIG, NSEC = 1, 2, 6, 41, 46, 47
# c0: bit0 EDNS, bit1 DO, bit2 CD, bits3-4 UDP size (100/1232/4096/65535), bit5 RD.
CONTROLS = [(0x00, 0), (0x21, 3), (0x2B, 0), (0x33, 7), (0x07, 61)]


def rr(owner, rtype, ttl, rdata, klass=1):
    return owner + struct.pack("!HHIH", rtype, klass, ttl, len(rdata)) + rdata


def opt(udp=1232, do=False, ext=0, options=b""):
    return b"\0" + struct.pack("!HHIH", OPT, udp, (ext << 24) | (0x8000 if do else 0),
                               len(options)) + options


def response(qname, qtype, rcode=0, an=(), ns=(), ar=(), flags=0x8180):
    head = struct.pack("!HHHHHH", 0x1234, flags | rcode, 1, len(an), len(ns), len(ar))
    return head + name(qname) + struct.pack("!HH", qtype, 1) + b"".join(an + ns + ar)


def soa(zone, ttl, minimum):
    rdata = name("ns." + zone) + name("hostmaster." + zone) + struct.pack(
        "!IIIII", 1, 7200, 1800, 86400, minimum)
    return rr(name(zone), SOA, ttl, rdata)


def handmade():
    sig = b"\x5a" * 330
    yield "signed_nxdomain", response(
        "missing.example.com", A, 3,
        ns=(soa("example.com", 300, 300), rr(name("example.com"), RRSIG, 300, sig),
            rr(name("a.example.com"), NSEC, 300, name("z.example.com")),
            rr(name("a.example.com"), RRSIG, 300, sig)),
        ar=(opt(do=True),))
    yield "headless_30", response(
        "headless.default.svc.cluster.local", A,
        an=tuple(rr(b"\xc0\x0c", A, 5, bytes([10, 1, 0, i])) for i in range(30)))
    yield "refused_cookie", response("r.example.org", A, 5,
                                     ar=(opt(options=b"\0\x0a\0\x10" + b"\1" * 16),))
    yield "opt_middle", response(
        "mid.example.org", A, an=(rr(b"\xc0\x0c", A, 60, b"\1\2\3\4"),),
        ar=(rr(name("x.example.org"), A, 60, b"\5\6\7\x08"), opt(),
            rr(name("y.example.org"), A, 60, b"\x09\x09\x09\x09")))
    yield "badcookie", response("c.example.org", A, 7, ar=(opt(ext=1),))
    yield "nodata_soa", response("n.example.org", 28, ns=(soa("example.org", 30, 10),))


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if not f.startswith("crash_"):  # reproducers of fixed bugs stay
            os.remove(os.path.join(OUT, f))
    seeds = list(handmade())
    src = os.path.join(HERE, "corpus")
    for f in sorted(os.listdir(src)):
        if f.startswith("r_"):
            with open(os.path.join(src, f), "rb") as fh:
                seeds.append((f[2:], fh.read()))
    for i, (label, data) in enumerate(seeds):
        c0, c1 = CONTROLS[i % len(CONTROLS)]
        with open(os.path.join(OUT, label), "wb") as fh:
            fh.write(bytes([c0, c1]) + data)
    print(f"{len(seeds)} seeds in {OUT}")


if __name__ == "__main__":
    main()
