// End to end: nsd (kube-dns stand-in) + our Server + dig, inside a private network namespace.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <random>
#include <sstream>
#include <thread>

#include "resolver/config/config.h"
#include "resolver/dns/builder.h"
#include "resolver/dns/types.h"
#include "tests/resolver/server/e2e_support.h"

namespace nld::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

#define NLD_E2E_SETUP(corefile)         \
  NLD_ENTER_NETNS();                    \
  TempDir dir;                          \
  Nsd nsd(dir);                         \
  ASSERT_TRUE(nsd.ok()) << nsd.error(); \
  auto server = startServer(corefile);  \
  ASSERT_NE(server, nullptr)

/// TTL of the first record of `type` in dig's output ("name<ws>TTL<ws>IN<ws>TYPE ..."), or -1.
int firstAnswerTtl(const CommandResult& r, const std::string& type) {
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == ';') {
      continue;
    }
    std::istringstream fields(line);
    std::string name, ttl, cls, t;
    if (fields >> name >> ttl >> cls >> t && cls == "IN" && t == type &&
        ttl.find_first_not_of("0123456789") == std::string::npos) {
      return std::stoi(ttl);
    }
  }
  return -1;
}

TEST(ServerE2e, AnswersRecordTypesOverUdpAndTcp) {
  NLD_E2E_SETUP(defaultCorefile());
  for (const std::string proto : {"+notcp", "+tcp"}) {
    SCOPED_TRACE(proto);
    EXPECT_EQ(dig(proto + " +short svc1.default.svc.cluster.local A").out, "10.96.0.11\n");
    EXPECT_EQ(dig(proto + " +short svc1.default.svc.cluster.local AAAA").out, "fd00::11\n");
    EXPECT_EQ(dig(proto + " +short _http._tcp.svc1.default.svc.cluster.local SRV").out,
              "0 100 80 svc1.default.svc.cluster.local.\n");
    EXPECT_EQ(dig(proto + " +short -x 10.96.0.11").out, "svc1.default.svc.cluster.local.\n");
    EXPECT_EQ(dig(proto + " +short alias.default.svc.cluster.local A").out,
              "svc1.default.svc.cluster.local.\n10.96.0.11\n");
  }
  // Second round: the same names again, now from the cache.
  EXPECT_EQ(dig("+short svc1.default.svc.cluster.local A").out, "10.96.0.11\n");
  std::string metrics = server->renderMetrics();
  EXPECT_THAT(metrics, HasSubstr("coredns_dns_requests_total{server=\"dns://127.0.0.1:53\","
                                 "zone=\"cluster.local.\",view=\"\",proto=\"udp\",family=\"1\","
                                 "type=\"A\"}"));
  EXPECT_THAT(metrics, HasSubstr("coredns_cache_hits_total{server=\"dns://127.0.0.1:53\","
                                 "zones=\"cluster.local.\",view=\"\",type=\"success\"}"));
  EXPECT_THAT(metrics, HasSubstr("coredns_proxy_request_duration_seconds_count{proxy_name="
                                 "\"forward\",to=\"127.0.0.2:5300\",rcode=\"NOERROR\"}"));
  EXPECT_THAT(metrics, HasSubstr("zone=\"in-addr.arpa.\""));
}

TEST(ServerE2e, NxdomainCarriesSoaAndNodataIsEmpty) {
  NLD_E2E_SETUP(defaultCorefile());
  auto nx = dig("nope.default.svc.cluster.local A");
  EXPECT_EQ(status(nx), "NXDOMAIN") << nx.out;
  EXPECT_THAT(nx.out, HasSubstr("AUTHORITY: 1"));
  EXPECT_THAT(nx.out, HasSubstr("IN\tSOA\tns.dns.cluster.local."));
  auto nodata = dig("svc2.default.svc.cluster.local AAAA");
  EXPECT_EQ(status(nodata), "NOERROR") << nodata.out;
  EXPECT_THAT(nodata.out, HasSubstr("ANSWER: 0"));
  EXPECT_THAT(nodata.out, HasSubstr("IN\tSOA"));
}

TEST(ServerE2e, DenialTtlOfClusterZoneIsFiveSeconds) {
  NLD_E2E_SETUP(defaultCorefile());
  auto first = dig("nothere.default.svc.cluster.local A");
  ASSERT_EQ(status(first), "NXDOMAIN") << first.out;
  EXPECT_EQ(firstAnswerTtl(first, "SOA"), 5) << first.out;
  auto cached = dig("nothere.default.svc.cluster.local A");
  EXPECT_LE(firstAnswerTtl(cached, "SOA"), 5) << cached.out;
}

TEST(ServerE2e, LargeTxtIsTruncatedOverUdpAndCompleteOverTcp) {
  NLD_E2E_SETUP(defaultCorefile());
  auto udp = dig("+ignore +noedns big.default.svc.cluster.local TXT");
  EXPECT_THAT(udp.out, HasSubstr(" tc")) << udp.out;
  EXPECT_THAT(udp.out, HasSubstr("ANSWER: 0"));
  auto tcp = dig("+tcp big.default.svc.cluster.local TXT");
  EXPECT_EQ(status(tcp), "NOERROR") << tcp.out;
  EXPECT_THAT(tcp.out, HasSubstr("ANSWER: 1"));
  EXPECT_THAT(tcp.out, Not(HasSubstr(" tc")));
  // A client with a big enough EDNS buffer gets it over UDP in one go.
  auto edns = dig("+bufsize=4096 big.default.svc.cluster.local TXT");
  EXPECT_THAT(edns.out, HasSubstr("ANSWER: 1")) << edns.out;
  // Without EDNS, from the cache this time: truncated again.
  auto again = dig("+ignore +noedns big.default.svc.cluster.local TXT");
  EXPECT_THAT(again.out, HasSubstr(" tc")) << again.out;
}

TEST(ServerE2e, EchoesQuestionCasing) {
  NLD_E2E_SETUP(defaultCorefile());
  for (int i = 0; i < 2; ++i) {  // miss, then hit
    auto r = dig("+noall +question +answer SvC3.DeFaUlT.sVc.CLUSTER.local A");
    EXPECT_THAT(r.out, HasSubstr(";SvC3.DeFaUlT.sVc.CLUSTER.local.")) << r.out;
    EXPECT_THAT(r.out, HasSubstr("10.96.1.3"));
  }
}

TEST(ServerE2e, UpstreamDownGivesServfailWithinDeadline) {
  NLD_E2E_SETUP(defaultCorefile());
  ASSERT_EQ(dig("+short svc5.default.svc.cluster.local A").out, "10.96.1.5\n");
  EXPECT_TRUE(server->upstreamReachable());
  nsd.stop();
  auto t0 = std::chrono::steady_clock::now();
  auto r = dig("svc6.default.svc.cluster.local A");
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(status(r), "SERVFAIL") << r.out;
  EXPECT_LT(took, std::chrono::milliseconds(5600));
  // Cached names keep working.
  EXPECT_EQ(dig("+short svc5.default.svc.cluster.local A").out, "10.96.1.5\n");
  // Failures beyond max_fails (2) mark the only upstream down, and readiness reports it.
  for (int i = 0; i < 5 && server->upstreamReachable(); ++i) {
    EXPECT_EQ(status(dig("svc" + std::to_string(7 + i) + ".default.svc.cluster.local A")),
              "SERVFAIL");
  }
  EXPECT_FALSE(server->upstreamReachable());
}

TEST(ServerE2e, MalformedQueriesGetFormerrOrAreDroppedAndServingContinues) {
  NLD_E2E_SETUP(defaultCorefile());
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(53);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  auto exchange = [&](const std::vector<uint8_t>& q) -> std::vector<uint8_t> {
    ::sendto(fd, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) {
      return {};
    }
    std::vector<uint8_t> buf(4096);
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return buf;
  };
  // Header readable, QDCOUNT 2 with a truncated question: FORMERR with our ID.
  auto formerr = exchange({0x12, 0x34, 0x01, 0x00, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 3, 'a', 'b'});
  ASSERT_GE(formerr.size(), 12u);
  EXPECT_EQ(formerr[0], 0x12);
  EXPECT_EQ(formerr[1], 0x34);
  EXPECT_EQ(formerr[3] & 0x0f, 1);  // FORMERR
  // Dropped: the first answer on the socket is the health probe's sent right after (one
  // socket's datagrams reach one worker, in order), rather than waiting out a silence.
  auto dropped = [&](const std::vector<uint8_t>& q) {
    ::sendto(fd, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    uint8_t probe[64];
    const size_t len =
        resolver::dns::buildQuery(0xbeef, 0, resolver::kHealthProbeName, resolver::dns::qtype::kTxt,
                                  resolver::dns::qclass::kCh, probe);
    auto answer = exchange(std::vector<uint8_t>(probe, probe + len));
    return answer.size() >= 2 && answer[0] == 0xbe && answer[1] == 0xef;
  };
  // Too short for a header: dropped.
  EXPECT_TRUE(dropped({1, 2, 3, 4, 5}));
  // A response (QR set): dropped (no reflection loops).
  EXPECT_TRUE(dropped({0, 1, 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 0}));
  ::close(fd);
  EXPECT_EQ(dig("+short svc7.default.svc.cluster.local A").out, "10.96.1.7\n");
}

TEST(ServerE2e, PipelinedTcpQueriesAndProbe) {
  NLD_E2E_SETUP(defaultCorefile());
  EXPECT_TRUE(server->probe(std::chrono::milliseconds(1000)));
  // dig with several names over one TCP connection (+keepopen) — answered in any order.
  auto r =
      dig("+tcp +keepopen +short svc10.default.svc.cluster.local A "
          "svc11.default.svc.cluster.local A svc12.default.svc.cluster.local A");
  EXPECT_THAT(r.out, HasSubstr("10.96.1.10"));
  EXPECT_THAT(r.out, HasSubstr("10.96.1.11"));
  EXPECT_THAT(r.out, HasSubstr("10.96.1.12"));
  uint64_t before = server->progress();
  dig("+short svc10.default.svc.cluster.local A");
  EXPECT_GT(server->progress(), before);
}

TEST(ServerE2e, ReloadKeepsServing) {
  NLD_E2E_SETUP(defaultCorefile());
  ASSERT_EQ(dig("+short svc13.default.svc.cluster.local A").out, "10.96.1.13\n");
  auto cfg = resolver::config::parseCorefile(defaultCorefile(), "Corefile");
  ASSERT_TRUE(cfg.has_value());
  ASSERT_TRUE(server->reload(std::move(*cfg)).has_value());
  nsd.stop();
  // Cache of the unchanged block was kept: still answered without the upstream.
  EXPECT_EQ(dig("+short svc13.default.svc.cluster.local A").out, "10.96.1.13\n");
}

TEST(ServerE2e, BindErrorNamesTheAddress) {
  NLD_ENTER_NETNS();
  auto cfg = resolver::config::parseCorefile(
      ".:53 {\n    bind 169.254.20.10\n    forward . 127.0.0.2:5300\n}\n", "Corefile");
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message();
  auto server = resolver::Server::create(std::move(*cfg), {});
  ASSERT_FALSE(server.has_value());
  EXPECT_EQ(server.error().message(), "bind udp 169.254.20.10:53: Cannot assign requested address");
}

}  // namespace
}  // namespace nld::test

namespace nld::test {
namespace {

/// A scripted UDP upstream on 127.0.0.3:5300: counts queries; answers each after `delay` with
/// A 192.0.2.1, or never when `silent`.
class FakeUpstream {
 public:
  FakeUpstream(bool silent, std::chrono::milliseconds delay) : silent_(silent), delay_(delay) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(5300);
    a.sin_addr.s_addr = htonl(0x7f000003);
    ok_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    thread_ = std::thread([this] { loop(); });
  }
  ~FakeUpstream() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  bool ok() const { return ok_; }
  int queries() const { return queries_.load(); }

 private:
  void loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) {
        continue;
      }
      uint8_t buf[512];
      sockaddr_in from{};
      socklen_t len = sizeof from;
      ssize_t n = ::recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n < 12) {
        continue;
      }
      ++queries_;
      if (silent_) {
        continue;
      }
      std::this_thread::sleep_for(delay_);
      std::vector<uint8_t> r(buf, buf + n);
      r[2] |= 0x80;
      r[3] = 0x80;
      r[7] = 1;   // ANCOUNT
      r[11] = 0;  // drop any OPT from the copy's count
      // Cut everything after the question (12 + name + 4).
      size_t pos = 12;
      while (pos < r.size() && r[pos] != 0) {
        pos += 1 + r[pos];
      }
      r.resize(pos + 5);
      const uint8_t rr[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 192, 0, 2, 1};
      r.insert(r.end(), rr, rr + sizeof rr);
      ::sendto(fd_, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
    }
  }

  bool silent_;
  std::chrono::milliseconds delay_;
  int fd_ = -1;
  bool ok_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<int> queries_{0};
  std::thread thread_;
};

std::string fakeCorefile(const std::string& forward_line, const std::string& options = "") {
  return "example.org:53 {\n    cache 30\n    bind 127.0.0.1\n    forward . " + forward_line +
         " {\n" + options + "    }\n}\n";
}

/// Sends `queries` from one socket each, concurrently, and returns the answers' rcodes
/// (-1 = no answer within 6 s).
std::vector<int> sendConcurrently(const std::vector<std::vector<uint8_t>>& queries) {
  std::vector<int> fds;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(53);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (const auto& q : queries) {
    int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    ::sendto(fd, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    fds.push_back(fd);
  }
  std::vector<int> rcodes;
  for (int fd : fds) {
    pollfd p{fd, POLLIN, 0};
    int rc = -1;
    if (::poll(&p, 1, 6000) > 0) {
      uint8_t buf[512];
      if (::recv(fd, buf, sizeof buf, 0) >= 12) {
        rc = buf[3] & 0x0f;
      }
    }
    rcodes.push_back(rc);
    ::close(fd);
  }
  return rcodes;
}

TEST(ServerForwarding, TruncatedUdpAnswerIsRefetchedOverTcp) {
  NLD_E2E_SETUP(
      "cluster.local:53 {\n    cache 30\n    bind 127.0.0.1\n"
      "    forward . 127.0.0.2:5300\n}\n");
  // UDP client without EDNS: we ask nsd over UDP, it truncates, we retry over TCP and cache the
  // full answer; the client gets TC (its limit is 512).
  auto udp = dig("+ignore +noedns big.default.svc.cluster.local TXT");
  EXPECT_THAT(udp.out, HasSubstr(" tc")) << udp.out;
  nsd.stop();
  auto tcp = dig("+tcp big.default.svc.cluster.local TXT");
  EXPECT_EQ(status(tcp), "NOERROR") << tcp.out;
  EXPECT_THAT(tcp.out, HasSubstr("ANSWER: 1"));
}

size_t openFds() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++n;
  }
  return n;
}

// A silent upstream under load: each query in flight holds a UDP socket until its timeout, so
// before the per-worker bound 2,000 q/s took the process to RLIMIT_NOFILE (4,063 sockets) and
// the link watcher could no longer open netlink sockets. Now a worker holds at most
// max_upstream_queries; the rest are answered SERVFAIL at once and counted.
TEST(ServerForwarding, SilentUpstreamCannotExhaustFileDescriptors) {
  NLD_ENTER_NETNS();
  FakeUpstream up(true, std::chrono::milliseconds(0));
  ASSERT_TRUE(up.ok());
  resolver::ServerOptions opts;
  opts.max_upstream_queries = 32;  // kBound below
  auto server = startServer(fakeCorefile("127.0.0.3:5300"), 1, opts);
  ASSERT_NE(server, nullptr);
  const size_t before = openFds();
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(53);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  constexpr int kQueries = 400;
  constexpr int kBound = 32;
  // In bursts of 20, each answered before the next (a single burst of 400 would overflow the
  // listener's receive buffer): the first kBound wait on the silent upstream, every later one is
  // answered SERVFAIL at once, long before any attempt timeout.
  int servfail = 0;
  size_t most = 0;
  for (int sent = 0; sent < kQueries;) {
    for (int k = 0; k < 20; ++k, ++sent) {
      auto q = wireQuery(static_cast<uint16_t>(sent), "q" + std::to_string(sent) + ".example.org");
      ::sendto(fd, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (servfail < sent - kBound && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) {
        continue;
      }
      uint8_t buf[512];
      if (::recv(fd, buf, sizeof buf, 0) >= 12 && (buf[3] & 0x0f) == 2) {
        ++servfail;
      }
    }
    most = std::max(most, openFds());
  }
  ::close(fd);
  EXPECT_EQ(servfail, kQueries - kBound);
  EXPECT_LE(most, before + kBound + 8) << "fds before: " << before;
  EXPECT_THAT(server->renderMetrics(), HasSubstr("nodelocaldns_forward_inflight_rejects_total " +
                                                 std::to_string(kQueries - kBound) + "\n"));
}

TEST(ServerOptions, UpstreamQueryBoundLeavesDescriptorsFree) {
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
  rlimit lower = old;
  lower.rlim_cur = 4096;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lower), 0);
  EXPECT_EQ(resolver::upstreamQueriesPerWorker(1024, 2), 1024u);
  EXPECT_EQ(resolver::upstreamQueriesPerWorker(1024, 8), (4096u - 512u) / 8u);
  EXPECT_EQ(resolver::upstreamQueriesPerWorker(0, 2), (4096u - 512u) / 2u);
  EXPECT_EQ(resolver::upstreamQueriesPerWorker(1024, 1000), 16u);
  // Client connections are reserved too: 2 workers x 1,024 of them.
  EXPECT_EQ(resolver::upstreamQueriesPerWorker(0, 2, 1024), (4096u - 512u - 2048u) / 2u);
  EXPECT_EQ(resolver::upstreamQueriesPerWorker(1024, 4, 1024), 16u);
  ::setrlimit(RLIMIT_NOFILE, &old);
}

}  // namespace
}  // namespace nld::test

namespace nld::test {
namespace {

int connectTcp53() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(53);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

/// True if the peer closed the connection within `ms`.
bool closedWithin(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, ms) <= 0) {
    return false;
  }
  char c;
  return ::recv(fd, &c, 1, 0) == 0;
}

TEST(ServerTcp, PipelinedQueriesAreAnsweredOutOfOrder) {
  NLD_ENTER_NETNS();
  FakeUpstream up(false, std::chrono::milliseconds(300));
  ASSERT_TRUE(up.ok());
  auto server = startServer(fakeCorefile("127.0.0.3:5300"), 1);
  ASSERT_NE(server, nullptr);
  // Warm the cache for "fast".
  sendConcurrently({wireQuery(9, "fast.example.org", 1)});
  int fd = connectTcp53();
  ASSERT_GE(fd, 0);
  std::vector<uint8_t> wire;
  for (auto q : {wireQuery(1, "slow.example.org", 1), wireQuery(2, "fast.example.org", 1)}) {
    wire.push_back(static_cast<uint8_t>(q.size() >> 8));
    wire.push_back(static_cast<uint8_t>(q.size()));
    wire.insert(wire.end(), q.begin(), q.end());
  }
  ASSERT_EQ(::send(fd, wire.data(), wire.size(), 0), static_cast<ssize_t>(wire.size()));
  std::vector<uint16_t> ids;
  std::vector<uint8_t> in;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (ids.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) {
      continue;
    }
    uint8_t buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    in.insert(in.end(), buf, buf + n);
    while (in.size() >= 2 && in.size() >= 2u + ((in[0] << 8) | in[1])) {
      size_t len = (in[0] << 8) | in[1];
      ids.push_back(static_cast<uint16_t>((in[2] << 8) | in[3]));
      in.erase(in.begin(), in.begin() + 2 + static_cast<long>(len));
    }
  }
  ::close(fd);
  EXPECT_EQ(ids, (std::vector<uint16_t>{2, 1})) << "the cached answer overtakes the slow one";
}

}  // namespace
}  // namespace nld::test

namespace nld::test {
namespace {

TEST(ServerHandover, SuccessorTakesOverWithoutLoss) {
  NLD_ENTER_NETNS();
  TempDir dir;
  Nsd nsd(dir);
  ASSERT_TRUE(nsd.ok()) << nsd.error();
  auto old_server = startServer(defaultCorefile(), 1);
  ASSERT_NE(old_server, nullptr);
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(53);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  int answered = 0;
  const int kQueries = 3000;
  std::unique_ptr<resolver::Server> successor;
  for (int i = 0; i < kQueries; ++i) {
    if (i == 1000) {
      successor = startServer(defaultCorefile(), 1);  // binds beside the old one (SO_REUSEPORT)
      ASSERT_NE(successor, nullptr);
    }
    if (i == 1500) {
      old_server->stopAccepting();
    }
    if (i == 2000) {
      old_server->stop(std::chrono::milliseconds(500));
    }
    auto q = wireQuery(static_cast<uint16_t>(i),
                       "svc" + std::to_string(1 + i % 50) + ".default.svc.cluster.local", 1);
    ::send(fd, q.data(), q.size(), 0);
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 2000) > 0) {
      uint8_t buf[512];
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n >= 12 && buf[0] == static_cast<uint8_t>(i >> 8) && buf[1] == static_cast<uint8_t>(i)) {
        ++answered;
      }
    }
  }
  ::close(fd);
  EXPECT_EQ(answered, kQueries);
}

}  // namespace
}  // namespace nld::test

namespace nld::test {
namespace {

TEST(ServerListeners, WildcardListenerAnswersFromTheAddressAskedAndServesIpv6) {
  NLD_E2E_SETUP(".:53 {\n    cache 30\n    forward . 127.0.0.2:5300\n}\n");
  // 127.0.0.5 is local on lo; without IP_PKTINFO the reply would leave from 127.0.0.1 and dig
  // would reject it ("reply from unexpected source").
  auto v4 = run("dig @127.0.0.5 -p 53 +tries=1 +time=3 +short svc1.default.svc.cluster.local A");
  EXPECT_EQ(v4.out, "10.96.0.11\n");
  auto v6 = run("dig @::1 -p 53 +tries=1 +time=3 +short svc1.default.svc.cluster.local AAAA");
  EXPECT_EQ(v6.out, "fd00::11\n");
  auto v6tcp = run("dig @::1 -p 53 +tcp +tries=1 +time=3 +short svc1.default.svc.cluster.local A");
  EXPECT_EQ(v6tcp.out, "10.96.0.11\n");
  EXPECT_THAT(server->renderMetrics(), HasSubstr("server=\"dns://:53\",zone=\".\",view=\"\","
                                                 "proto=\"udp\",family=\"2\",type=\"AAAA\""));
}

}  // namespace
}  // namespace nld::test

namespace nld::test {
namespace {

TEST(ServerRobustness, SurvivesRandomAndMutatedPacketsOverUdpAndTcp) {
  NLD_ENTER_NETNS();
  FakeUpstream up(false, std::chrono::milliseconds(0));
  ASSERT_TRUE(up.ok());
  auto server = startServer(fakeCorefile("127.0.0.3:5300"), 2);
  ASSERT_NE(server, nullptr);
  std::mt19937 rng(42);
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(53);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  auto base = wireQuery(7, "www.example.org", 1);
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> p;
    if (i % 2 == 0) {
      p.resize(rng() % 600);
      for (auto& b : p) {
        b = static_cast<uint8_t>(rng());
      }
    } else {
      p = base;
      for (int k = 0; k < 3; ++k) {
        p[rng() % p.size()] = static_cast<uint8_t>(rng());
      }
      p[2] &= 0x7f;  // keep it a query, so the parser goes deep
    }
    ::sendto(fd, p.data(), p.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    if (i % 64 == 0) {
      uint8_t sink[4096];
      while (::recv(fd, sink, sizeof sink, 0) > 0) {
      }
    }
  }
  ::close(fd);
  // Garbage over TCP: a bogus frame, then a zero length (protocol error: connection closed).
  int t = connectTcp53();
  ASSERT_GE(t, 0);
  const uint8_t junk[] = {0, 5, 1, 2, 3, 4, 5, 0, 0, 9, 9};
  ::send(t, junk, sizeof junk, 0);
  EXPECT_TRUE(closedWithin(t, 2000));
  ::close(t);
  EXPECT_TRUE(server->probe(std::chrono::milliseconds(2000)));
  EXPECT_EQ(run("dig @127.0.0.1 -p 53 +tries=1 +time=3 +short www.example.org A").out,
            "192.0.2.1\n");
}

}  // namespace
}  // namespace nld::test

namespace nld::test {
namespace {}  // namespace
}  // namespace nld::test

namespace nld::test {
namespace {

// Regression: stopAccepting()/stop()/reload() under load used to free listener handlers that
// still had events pending in the same epoll round.
TEST(ServerLifecycle, StopAcceptingReloadAndStopUnderLoad) {
  NLD_ENTER_NETNS();
  FakeUpstream up(false, std::chrono::milliseconds(0));
  ASSERT_TRUE(up.ok());
  std::atomic<bool> stop{false};
  std::thread blaster([&stop] {
    std::vector<int> fds;
    for (int i = 0; i < 8; ++i) {
      fds.push_back(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0));
    }
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(53);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    uint16_t id = 0;
    while (!stop.load()) {
      for (int fd : fds) {
        ++id;
        auto q = wireQuery(id, "n" + std::to_string(id % 16) + ".example.org", 1);
        ::sendto(fd, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
        uint8_t sink[512];
        while (::recv(fd, sink, sizeof sink, 0) > 0) {
        }
      }
    }
    for (int fd : fds) {
      ::close(fd);
    }
  });
  for (int round = 0; round < 5; ++round) {
    auto server = startServer(fakeCorefile("127.0.0.3:5300"), 2);
    ASSERT_NE(server, nullptr);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto cfg = resolver::config::parseCorefile(fakeCorefile("127.0.0.3:5300"), "Corefile");
    ASSERT_TRUE(cfg.has_value());
    ASSERT_TRUE(server->reload(std::move(*cfg)).has_value());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    server->stopAccepting();
    server->stop(std::chrono::milliseconds(200));
    EXPECT_GT(server->progress(), 0u);
  }
  stop = true;
  blaster.join();
}

}  // namespace
}  // namespace nld::test
