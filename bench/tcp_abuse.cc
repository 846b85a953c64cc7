// nld_bench_tcp_abuse: TCP abuse figures against a running server (bench/tcp_abuse.sh; not a
// test). Also the fake upstream the script uses: every query answered with a ~3 KB TXT record.
//
//   nld_bench_tcp_abuse upstream IP PORT                 serve UDP+TCP answers until killed
//   nld_bench_tcp_abuse pipeline SERVER_PID N NAME       one client pipelines N queries, never
//   reads nld_bench_tcp_abuse loris CONNS SECONDS NAME         CONNS clients send one byte a second
//   nld_bench_tcp_abuse idle CONNS SECONDS NAME          CONNS clients connect and send nothing
// The server is 127.0.0.1:53. loris/idle reconnect a client the server closed MS (1000) later
// (0: at once, a connection flood), and meanwhile measure a legitimate TCP client (connect, query,
// answer; every 100 ms) and UDP answers (500 a second): p50/p99/max.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::vector<uint8_t> query(uint16_t id, const std::string& name, uint16_t qtype) {
  std::vector<uint8_t> q = {
      static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id), 1, 0, 0, 1, 0, 0, 0, 0, 0, 1};
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    q.push_back(static_cast<uint8_t>(dot - start));
    q.insert(q.end(), name.begin() + static_cast<long>(start),
             name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  q.insert(q.end(), {0, static_cast<uint8_t>(qtype >> 8), static_cast<uint8_t>(qtype), 0, 1});
  q.insert(q.end(), {0, 0, 41, 0x10, 0x00, 0, 0, 0, 0, 0, 0});  // OPT, 4096
  return q;
}

std::vector<uint8_t> framed(const std::vector<uint8_t>& q) {
  std::vector<uint8_t> f(q.size() + 2);
  f[0] = static_cast<uint8_t>(q.size() >> 8);
  f[1] = static_cast<uint8_t>(q.size());
  std::copy(q.begin(), q.end(), f.begin() + 2);
  return f;
}

sockaddr_in addr(const char* ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

int connect53(bool nonblock, int rcvbuf = 0) {
  int fd = ::socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
  if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  auto a = addr("127.0.0.1", 53);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// ---- the fake upstream ----------------------------------------------------------------------
std::vector<uint8_t> answer(const uint8_t* q, size_t n) {
  size_t pos = 12;
  while (pos < n && q[pos] != 0) pos += 1 + q[pos];
  pos += 5;
  if (pos > n) return {};
  std::vector<uint8_t> r(q, q + pos);
  r[2] = 0x81;
  r[3] = 0x80;
  r[7] = 1;
  r[9] = 0;
  r[11] = 0;
  // TXT of 12 strings of 250 bytes: ~3 KB.
  std::vector<uint8_t> rdata;
  for (int i = 0; i < 12; ++i) {
    rdata.push_back(250);
    rdata.insert(rdata.end(), 250, 'x');
  }
  const uint8_t rr[] = {0xc0,
                        0x0c,
                        0,
                        16,
                        0,
                        1,
                        0,
                        0,
                        1,
                        0x2c,
                        static_cast<uint8_t>(rdata.size() >> 8),
                        static_cast<uint8_t>(rdata.size())};
  r.insert(r.end(), rr, rr + sizeof rr);
  r.insert(r.end(), rdata.begin(), rdata.end());
  return r;
}

int upstream(const char* ip, uint16_t port) {
  int u = ::socket(AF_INET, SOCK_DGRAM, 0);
  int t = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  auto a = addr(ip, port);
  if (::bind(u, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::bind(t, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(t, 64) != 0) {
    std::perror("upstream bind");
    return 1;
  }
  std::thread tcp([t] {
    for (;;) {
      int c = ::accept(t, nullptr, nullptr);
      if (c < 0) continue;
      std::thread([c] {
        std::vector<uint8_t> in;
        uint8_t buf[8192];
        for (;;) {
          ssize_t n = ::recv(c, buf, sizeof buf, 0);
          if (n <= 0) break;
          in.insert(in.end(), buf, buf + n);
          while (in.size() >= 2 && in.size() >= 2u + ((in[0] << 8) | in[1])) {
            size_t len = (in[0] << 8) | in[1];
            auto r = framed(answer(in.data() + 2, len));
            ::send(c, r.data(), r.size(), MSG_NOSIGNAL);
            in.erase(in.begin(), in.begin() + 2 + static_cast<long>(len));
          }
        }
        ::close(c);
      }).detach();
    }
  });
  for (;;) {
    uint8_t buf[4096];
    sockaddr_in from{};
    socklen_t fl = sizeof from;
    ssize_t n = ::recvfrom(u, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
    if (n < 12) continue;
    auto r = answer(buf, static_cast<size_t>(n));
    ::sendto(u, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from), fl);
  }
}

// ---- measurements ---------------------------------------------------------------------------
long rssKiB(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

/// One legitimate TCP client: connect, one query, its answer. Microseconds, or -1.
long legitTcpUs(const std::string& name) {
  auto t0 = Clock::now();
  int fd = connect53(false);
  if (fd < 0) return -1;
  auto f = framed(query(0x4242, name, 16));
  timeval tv{3, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  long us = -1;
  if (::send(fd, f.data(), f.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(f.size())) {
    std::vector<uint8_t> in;
    uint8_t buf[8192];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      in.insert(in.end(), buf, buf + n);
      if (in.size() >= 2 && in.size() >= 2u + ((in[0] << 8) | in[1])) {
        us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
        break;
      }
    }
  }
  ::close(fd);
  return us;
}

struct Stats {
  std::vector<long> us;
  long failed = 0;
  void print(const char* what) {
    std::sort(us.begin(), us.end());
    auto pct = [&](double p) {
      return us.empty() ? -1 : us[std::min(us.size() - 1, static_cast<size_t>(p * us.size()))];
    };
    std::printf("%s: n=%zu failed=%ld p50=%.2fms p99=%.2fms max=%.2fms\n", what, us.size(), failed,
                pct(0.5) / 1e3, pct(0.99) / 1e3, us.empty() ? -1.0 : us.back() / 1e3);
  }
};

/// UDP queries at ~500/s for `secs`: latencies of the answers.
void udpProbe(const std::string& name, int secs, Stats& out) {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  auto a = addr("127.0.0.1", 53);
  ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  auto end = Clock::now() + std::chrono::seconds(secs);
  uint16_t id = 1;
  while (Clock::now() < end) {
    auto q = query(id++, name, 16);
    auto t0 = Clock::now();
    ::send(fd, q.data(), q.size(), 0);
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 1000) > 0) {
      uint8_t buf[4096];
      ::recv(fd, buf, sizeof buf, 0);
      out.us.push_back(
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count());
    } else {
      ++out.failed;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(2000));
  }
  ::close(fd);
}

int pipeline(int pid, long n, const std::string& name) {
  auto one = framed(query(7, name, 16));
  std::vector<uint8_t> chunk;
  for (int i = 0; i < 1024; ++i) chunk.insert(chunk.end(), one.begin(), one.end());
  const long rss0 = rssKiB(pid);
  long rss_max = rss0;
  int fd = connect53(true, 4096);
  const size_t total = static_cast<size_t>(n) * one.size();
  size_t sent = 0;
  auto t0 = Clock::now();
  auto last = t0;
  bool closed = false;
  // Send as fast as the server reads; stop once it has not read for 2 s.
  while (sent < total && Clock::now() - last < std::chrono::seconds(2)) {
    size_t off = sent % chunk.size();
    size_t len = std::min(chunk.size() - off, total - sent);
    ssize_t w = ::send(fd, chunk.data() + off, len, MSG_NOSIGNAL);
    if (w > 0) {
      sent += static_cast<size_t>(w);
      last = Clock::now();
      continue;
    }
    if (w < 0 && errno != EAGAIN) {
      closed = true;
      break;
    }
    pollfd p{fd, POLLOUT | POLLRDHUP, 0};
    ::poll(&p, 1, 100);
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) {
      closed = true;
      break;
    }
    rss_max = std::max(rss_max, rssKiB(pid));
  }
  // All sent (or the server stopped reading): watch RSS and wait for the close, up to 15 s.
  for (auto until = Clock::now() + std::chrono::seconds(15); !closed && Clock::now() < until;) {
    pollfd p{fd, static_cast<short>(POLLRDHUP), 0};
    ::poll(&p, 1, 100);
    closed = (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
    rss_max = std::max(rss_max, rssKiB(pid));
  }
  double stalled_s = std::chrono::duration<double>(Clock::now() - last).count();
  std::printf(
      "pipeline: queries_sent=%zu of %ld (the rest refused by backpressure) closed=%s "
      "closed_after_last_accepted_byte=%.1fs rss_before=%ldKiB rss_max=%ldKiB "
      "growth=%.1fMiB\n",
      sent / one.size(), n, closed ? "yes" : "no", stalled_s, rss0, rss_max,
      (rss_max - rss0) / 1024.0);
  ::close(fd);
  return 0;
}

/// N connections: three pipelined queries (cached, a new name forwarded, cached), FIN, read to
/// EOF. Prints how many got all three answers.
int halfClose(int n, const std::string& name) {
  int ok = 0;
  for (int r = 0; r < n; ++r) {
    int fd = connect53(false);
    if (fd < 0) continue;
    std::vector<uint8_t> wire;
    const std::string fresh = "u" + std::to_string(r) + "." + name.substr(name.find('.') + 1);
    for (auto q : {query(1, name, 16), query(2, fresh, 16), query(3, name, 16)}) {
      auto f = framed(q);
      wire.insert(wire.end(), f.begin(), f.end());
    }
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::send(fd, wire.data(), wire.size(), MSG_NOSIGNAL);
    ::shutdown(fd, SHUT_WR);
    std::vector<uint8_t> in;
    uint8_t buf[8192];
    for (ssize_t got; (got = ::recv(fd, buf, sizeof buf, 0)) > 0;)
      in.insert(in.end(), buf, buf + got);
    int answers = 0;
    for (size_t pos = 0; in.size() - pos >= 2;) {
      size_t len = (in[pos] << 8) | in[pos + 1];
      if (in.size() - pos - 2 < len) break;
      ++answers;
      pos += 2 + len;
    }
    ok += answers == 3;
    ::close(fd);
  }
  std::printf("half-close: all 3 answers on %d of %d connections\n", ok, n);
  return 0;
}

int abuse(bool loris, int conns, int secs, const std::string& name, int reconnect_ms) {
  std::atomic<bool> stop{false};
  std::atomic<long> reconnects{0};
  std::thread attacker([&] {
    std::vector<int> fds(static_cast<size_t>(conns), -1);
    std::vector<size_t> pos(fds.size(), 0);
    std::vector<Clock::time_point> retry(fds.size(), Clock::now());
    auto q = framed(query(9, name, 16));
    auto next_byte = Clock::now();
    while (!stop) {
      for (size_t i = 0; i < fds.size() && !stop; ++i) {
        if (fds[i] < 0 && Clock::now() >= retry[i]) {
          fds[i] = connect53(true);
          pos[i] = 0;
          ++reconnects;
        }
      }
      // Closed by the server: reconnect on the next round.
      std::vector<pollfd> ps;
      for (int fd : fds) ps.push_back({fd, static_cast<short>(POLLRDHUP), 0});
      ::poll(ps.data(), ps.size(), 50);
      for (size_t i = 0; i < fds.size(); ++i) {
        if (ps[i].revents & (POLLRDHUP | POLLHUP | POLLERR)) {
          ::close(fds[i]);
          fds[i] = -1;
          retry[i] = Clock::now() + milliseconds(reconnect_ms);
        }
      }
      if (loris && Clock::now() >= next_byte) {
        next_byte = Clock::now() + std::chrono::seconds(1);
        for (size_t i = 0; i < fds.size(); ++i) {
          if (fds[i] >= 0) {
            ::send(fds[i], &q[pos[i] % q.size()], 1, MSG_NOSIGNAL);
            ++pos[i];
          }
        }
      }
    }
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
  });
  std::this_thread::sleep_for(std::chrono::seconds(2));  // the attackers hold their slots
  Stats udp, tcp;
  std::thread u([&] { udpProbe(name, secs, udp); });
  auto end = Clock::now() + std::chrono::seconds(secs);
  while (Clock::now() < end) {
    long us = legitTcpUs(name);
    if (us < 0) {
      ++tcp.failed;
    } else {
      tcp.us.push_back(us);
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
  u.join();
  stop = true;
  attacker.join();
  std::printf("%s x%d for %ds, closed ones reconnect after %d ms (connections opened: %ld)\n",
              loris ? "slow-loris" : "idle", conns, secs, reconnect_ms, reconnects.load());
  tcp.print("  legit TCP client (connect+query+answer)");
  udp.print("  UDP answers");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  rlimit rl{200000, 200000};  // thousands of attacker sockets
  if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    rl = {65536, 65536};
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "upstream" && argc == 4)
    return upstream(argv[2], static_cast<uint16_t>(std::atoi(argv[3])));
  if (mode == "halfclose" && argc == 4) return halfClose(std::atoi(argv[2]), argv[3]);
  if (mode == "pipeline" && argc == 5)
    return pipeline(std::atoi(argv[2]), std::atol(argv[3]), argv[4]);
  if ((mode == "loris" || mode == "idle") && (argc == 5 || argc == 6)) {
    return abuse(mode == "loris", std::atoi(argv[2]), std::atoi(argv[3]), argv[4],
                 argc == 6 ? std::atoi(argv[5]) : 1000);
  }
  std::fprintf(stderr,
               "usage: %s upstream IP PORT | pipeline SERVER_PID N NAME | halfclose N NAME | loris "
               "CONNS SECONDS NAME "
               "[MS] | idle CONNS SECONDS NAME [MS]\n",
               argv[0]);
  return 2;
}
