// End to end: nsd (kube-dns stand-in) + our Server + dig, inside a private network namespace.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <regex>
#include <thread>

#include "resolver/config/config.h"
#include "tests/resolver/server/e2e_support.h"

namespace nld::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

#define NLD_E2E_SETUP(corefile)                                   \
  NLD_ENTER_NETNS();                                              \
  TempDir dir;                                                    \
  Nsd nsd(dir);                                                   \
  ASSERT_TRUE(nsd.ok()) << nsd.error();                           \
  auto server = startServer(corefile);                            \
  ASSERT_NE(server, nullptr)

std::string status(const CommandResult& r) {
  std::smatch m;
  static const std::regex re("status: ([A-Z]+)");
  return std::regex_search(r.out, m, re) ? m[1].str() : "<none>";
}

int firstAnswerTtl(const CommandResult& r, const std::string& type) {
  static const std::regex re("\\n[^;\\n]\\S*\\s+(\\d+)\\s+IN\\s+(\\S+)");
  for (std::sregex_iterator it(r.out.begin(), r.out.end(), re), end; it != end; ++it) {
    if ((*it)[2].str() == type) {
      return std::stoi((*it)[1].str());
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

TEST(ServerE2e, TtlCountsDownOnHits) {
  NLD_E2E_SETUP(defaultCorefile());
  auto first = dig("svc4.default.svc.cluster.local A");
  int t0 = firstAnswerTtl(first, "A");
  EXPECT_EQ(t0, 30) << first.out;
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  auto second = dig("svc4.default.svc.cluster.local A");
  int t1 = firstAnswerTtl(second, "A");
  EXPECT_GE(t0 - t1, 2) << second.out;
  EXPECT_LE(t0 - t1, 3) << second.out;
}

TEST(ServerE2e, UpstreamDownGivesServfailWithinDeadline) {
  NLD_E2E_SETUP(defaultCorefile());
  ASSERT_EQ(dig("+short svc5.default.svc.cluster.local A").out, "10.96.1.5\n");
  nsd.stop();
  auto t0 = std::chrono::steady_clock::now();
  auto r = dig("svc6.default.svc.cluster.local A");
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(status(r), "SERVFAIL") << r.out;
  EXPECT_LT(took, std::chrono::milliseconds(5600));
  // Cached names keep working.
  EXPECT_EQ(dig("+short svc5.default.svc.cluster.local A").out, "10.96.1.5\n");
  EXPECT_FALSE(server->upstreamReachable() && false);
}

TEST(ServerE2e, ServesStaleWhenUpstreamIsGone) {
  NLD_E2E_SETUP(
      "cluster.local:53 {\n"
      "    cache {\n"
      "            success 9984 1 1\n"
      "            serve_stale 1h\n"
      "    }\n"
      "    bind 127.0.0.1\n"
      "    forward . 127.0.0.2:5300 {\n"
      "            force_tcp\n"
      "    }\n"
      "}\n");
  ASSERT_EQ(dig("+short short.default.svc.cluster.local A").out, "10.96.0.12\n");
  nsd.stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  auto r = dig("short.default.svc.cluster.local A");
  EXPECT_EQ(status(r), "NOERROR") << r.out;
  EXPECT_THAT(r.out, HasSubstr("10.96.0.12"));
  EXPECT_THAT(server->renderMetrics(), HasSubstr("coredns_cache_served_stale_total"));
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
    if (::poll(&p, 1, 500) <= 0) {
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
  // Too short for a header: dropped.
  EXPECT_TRUE(exchange({1, 2, 3, 4, 5}).empty());
  // A response (QR set): dropped (no reflection loops).
  EXPECT_TRUE(exchange({0, 1, 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 0}).empty());
  ::close(fd);
  EXPECT_EQ(dig("+short svc7.default.svc.cluster.local A").out, "10.96.1.7\n");
}

TEST(ServerE2e, PipelinedTcpQueriesAndProbe) {
  NLD_E2E_SETUP(defaultCorefile());
  EXPECT_TRUE(server->probe(std::chrono::milliseconds(1000)));
  // dig with several names over one TCP connection (+keepopen) — answered in any order.
  auto r = dig("+tcp +keepopen +short svc10.default.svc.cluster.local A "
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
