#!/usr/bin/env python3
"""Holds idle and slow HTTP connections against a health port and measures /health latency.

usage: http_stall.py HOST PORT [SECONDS=60] [IDLE=50] [SLOW=50] [INTERVAL_MS=100]

IDLE clients connect and send nothing; SLOW ones send a request line and then one header byte
every 500 ms. Both reconnect at once whenever the server closes them, so the connections stay
held for the whole run (what an abusive pod would do). Meanwhile one prober sends
`GET /health` every INTERVAL_MS and times connect-to-full-answer (10 s client timeout); at the
end it prints count, failures (not 200, or over kubelet's 5 s), p50/p99/max in ms.
"""
import socket
import sys
import threading
import time

host, port = sys.argv[1], int(sys.argv[2])
seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 60
n_idle = int(sys.argv[4]) if len(sys.argv) > 4 else 50
n_slow = int(sys.argv[5]) if len(sys.argv) > 5 else 50
interval = (int(sys.argv[6]) if len(sys.argv) > 6 else 100) / 1000.0
stop = time.monotonic() + seconds
reconnects = [0]
lock = threading.Lock()


def hold(slow):
    while time.monotonic() < stop:
        try:
            s = socket.create_connection((host, port), timeout=2)
        except OSError:
            time.sleep(0.05)
            continue
        with lock:
            reconnects[0] += 1
        try:
            s.settimeout(0.5)
            if slow:
                s.sendall(b"GET /health HTTP/1.1\r\n")
            while time.monotonic() < stop:
                if slow:
                    s.sendall(b"X")
                try:
                    if s.recv(4096) == b"":
                        break  # closed by the server: reconnect
                except socket.timeout:
                    pass
        except OSError:
            pass
        finally:
            s.close()


threads = [threading.Thread(target=hold, args=(i >= n_idle,), daemon=True)
           for i in range(n_idle + n_slow)]
for t in threads:
    t.start()
time.sleep(1)  # let them connect

lat, bad = [], 0
req = ("GET /health HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: kube-probe/1.31\r\n"
       "Accept: */*\r\nConnection: close\r\n\r\n" % (host, port)).encode()
while time.monotonic() < stop:
    t0 = time.monotonic()
    ok = False
    try:
        s = socket.create_connection((host, port), timeout=10)
        s.settimeout(max(0.1, 10 - (time.monotonic() - t0)))
        s.sendall(req)
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        ok = data.startswith(b"HTTP/1.0 200") or data.startswith(b"HTTP/1.1 200")
    except OSError:
        pass
    took = (time.monotonic() - t0) * 1000
    lat.append(took)
    if not ok or took > 5000:
        bad += 1
    time.sleep(max(0, interval - (time.monotonic() - t0)))

lat.sort()
pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print("probes=%d failed(>5s or not 200)=%d p50=%.1fms p99=%.1fms max=%.1fms "
      "held=%d idle+%d slow, connections opened by them=%d"
      % (len(lat), bad, pct(0.5), pct(0.99), lat[-1], n_idle, n_slow, reconnects[0]))
