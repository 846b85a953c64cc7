// End to end, the CoreDNS plugin features beyond serving: `cache ZONES` / `disable`, the
// CoreDNS metrics (size histograms, DO, plugin_enabled, zone="dropped"), and the `log` output
// (the `errors` plugin's rate limit and consolidation are scenarios: tests/scenarios/errors_*).
// nsd is the upstream, dig the client; log lines are captured from the server's spdlog logger.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/resolver/server/e2e_support.h"
#include "tests/support/captured_log.h"

namespace nld::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string clusterBlock(const std::string& directives) {
  return "cluster.local:53 {\n" + directives +
         "    bind 127.0.0.1\n"
         "    forward . 127.0.0.2:5300\n"
         "}\n";
}

TEST(ServerFeatures, CacheZonesLimitWhatIsCached) {
  NLD_ENTER_NETNS();
  TempDir dir;
  Nsd nsd(dir);
  ASSERT_TRUE(nsd.ok()) << nsd.error();
  auto server = startServer(clusterBlock("    cache 30 svc.cluster.local\n"));
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(dig("+short svc1.default.svc.cluster.local A").out, "10.96.0.11\n");
  EXPECT_EQ(dig("+short ns.dns.cluster.local A").out, "10.96.0.10\n");
  nsd.stop();
  // Under the cache's zone: answered from the cache. Outside it: never cached, so the dead
  // upstream shows.
  EXPECT_EQ(dig("+short svc1.default.svc.cluster.local A").out, "10.96.0.11\n");
  EXPECT_EQ(status(dig("ns.dns.cluster.local A")), "SERVFAIL");
  std::string m = server->renderMetrics();
  // Only the in-zone name ever reached the cache: 2 requests, 1 hit.
  EXPECT_THAT(m, HasSubstr("coredns_cache_requests_total{server=\"dns://127.0.0.1:53\","
                           "zones=\"cluster.local.\",view=\"\"} 2\n"));
  EXPECT_THAT(m, HasSubstr("coredns_cache_hits_total{server=\"dns://127.0.0.1:53\","
                           "zones=\"cluster.local.\",view=\"\",type=\"success\"} 1\n"));
}

TEST(ServerFeatures, DisableDenialStoresNoNegativeAnswers) {
  NLD_ENTER_NETNS();
  TempDir dir;
  Nsd nsd(dir);
  ASSERT_TRUE(nsd.ok()) << nsd.error();
  auto server = startServer(clusterBlock("    cache 30 {\n        disable denial\n    }\n"));
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(status(dig("nope.default.svc.cluster.local A")), "NXDOMAIN");
  EXPECT_EQ(status(dig("svc1.default.svc.cluster.local AAAA")), "NOERROR");
  EXPECT_EQ(status(dig("svc1.default.svc.cluster.local A")), "NOERROR");
  nsd.stop();
  EXPECT_EQ(dig("+short svc1.default.svc.cluster.local A").out, "10.96.0.11\n");
  EXPECT_EQ(status(dig("nope.default.svc.cluster.local A")), "SERVFAIL");
  EXPECT_EQ(status(dig("svc1.default.svc.cluster.local AAAA")), "NOERROR");  // has an answer
}

TEST(ServerFeatures, DisableSuccessUnderAZoneStillCachesDenials) {
  NLD_ENTER_NETNS();
  TempDir dir;
  Nsd nsd(dir);
  ASSERT_TRUE(nsd.ok()) << nsd.error();
  auto server = startServer(
      clusterBlock("    cache 30 {\n        disable success svc.cluster.local\n    }\n"));
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(status(dig("svc1.default.svc.cluster.local A")), "NOERROR");
  EXPECT_EQ(status(dig("nope.default.svc.cluster.local A")), "NXDOMAIN");
  EXPECT_EQ(status(dig("ns.dns.cluster.local A")), "NOERROR");
  nsd.stop();
  EXPECT_EQ(status(dig("svc1.default.svc.cluster.local A")), "SERVFAIL");
  EXPECT_EQ(status(dig("nope.default.svc.cluster.local A")), "NXDOMAIN");
  EXPECT_EQ(dig("+short ns.dns.cluster.local A").out, "10.96.0.10\n");  // outside the zone
}

TEST(ServerFeatures, CoreDnsMetricsForSizesDoPluginsAndDroppedQueries) {
  NLD_ENTER_NETNS();
  TempDir dir;
  Nsd nsd(dir);
  ASSERT_TRUE(nsd.ok()) << nsd.error();
  auto server =
      startServer(clusterBlock("    errors\n    cache 30\n    prometheus 127.0.0.1:9253\n    loop\n"
                               "    hosts /nonexistent/nld-hosts {\n      fallthrough\n    }\n"
                               "    template IN MX {\n      rcode NXDOMAIN\n    }\n"));
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(status(dig("+dnssec svc1.default.svc.cluster.local A")), "NOERROR");
  EXPECT_EQ(status(dig("+dnssec +tcp svc1.default.svc.cluster.local A")), "NOERROR");
  EXPECT_EQ(status(dig("+noedns svc1.default.svc.cluster.local A")), "NOERROR");
  EXPECT_EQ(status(dig("www.example.org A")), "REFUSED");  // no block for it: dropped
  std::string m = server->renderMetrics();
  const std::string z = "server=\"dns://127.0.0.1:53\",zone=\"cluster.local.\",view=\"\"";
  EXPECT_THAT(m, HasSubstr("coredns_dns_do_requests_total{" + z + "} 2\n"));
  EXPECT_THAT(m, HasSubstr("coredns_dns_request_size_bytes_count{" + z + ",proto=\"udp\"} 2\n"));
  EXPECT_THAT(m, HasSubstr("coredns_dns_request_size_bytes_count{" + z + ",proto=\"tcp\"} 1\n"));
  // dig's query with a cookie is > 50 bytes, without EDNS 48: all below the 100 byte bound.
  EXPECT_THAT(m, HasSubstr("coredns_dns_request_size_bytes_bucket{" + z +
                           ",proto=\"udp\",le=\"100\"} 2\n"));
  EXPECT_THAT(m, HasSubstr("coredns_dns_response_size_bytes_count{" + z + ",proto=\"udp\"} 2\n"));
  EXPECT_THAT(m, HasSubstr("coredns_dns_response_size_bytes_count{" + z + ",proto=\"tcp\"} 1\n"));
  const std::string d = "server=\"dns://127.0.0.1:53\",zone=\"dropped\",view=\"\"";
  EXPECT_THAT(m, HasSubstr("coredns_dns_requests_total{" + d +
                           ",proto=\"udp\",family=\"1\",type=\"A\"} 1\n"));
  EXPECT_THAT(
      m, HasSubstr("coredns_dns_responses_total{" + d + ",rcode=\"REFUSED\",plugin=\"\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("coredns_dns_response_size_bytes_count{" + d + ",proto=\"udp\"} 1\n"));
  for (const char* name :
       {"prometheus", "errors", "cache", "loop", "template", "hosts", "forward"}) {
    EXPECT_THAT(m, HasSubstr("coredns_plugin_enabled{" + z + ",name=\"" + name + "\"} 1\n"));
  }
  EXPECT_THAT(m, Not(HasSubstr("name=\"log\"")));
  EXPECT_THAT(m, Not(HasSubstr("name=\"bind\"")));
}

TEST(ServerFeatures, LogWritesCommonLogLinesWithClassFilter) {
  NLD_ENTER_NETNS();
  TempDir dir;
  Nsd nsd(dir);
  ASSERT_TRUE(nsd.ok()) << nsd.error();
  CapturedLog log;
  auto server = startServer(
      clusterBlock("    log\n    cache 30\n") +
      "10.in-addr.arpa:53 {\n    log . {\n        class denial\n    }\n    bind 127.0.0.1\n"
      "    forward . 127.0.0.2:5300\n}\n");
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(status(dig("svc1.default.svc.cluster.local A")), "NOERROR");  // miss
  EXPECT_EQ(status(dig("SVC1.default.svc.cluster.local A")), "NOERROR");  // hit
  EXPECT_EQ(status(dig("+tcp +dnssec svc1.default.svc.cluster.local A")), "NOERROR");
  EXPECT_EQ(status(dig("-x 10.96.0.11")), "NOERROR");   // success: not logged (class denial)
  EXPECT_EQ(status(dig("-x 10.96.0.99")), "NXDOMAIN");  // denial: logged
  const std::string udp =
      "^127\\.0\\.0\\.1:[0-9]+ - [0-9]+ \"A IN svc1\\.default\\.svc\\.cluster\\.local\\. udp "
      "[0-9]+ false 1232\" NOERROR qr,aa,rd(,ra)? [0-9]+ [0-9.]+s$";
  EXPECT_EQ(log.waitFor(udp, 2).size(), 2u) << ::testing::PrintToString(log.lines());
  const std::string tcp =
      "^127\\.0\\.0\\.1:[0-9]+ - [0-9]+ \"A IN svc1\\.default\\.svc\\.cluster\\.local\\. tcp "
      "[0-9]+ true 65535\" NOERROR qr,aa,rd(,ra)? [0-9]+ [0-9.]+s$";
  EXPECT_EQ(log.matching(tcp).size(), 1u) << ::testing::PrintToString(log.lines());
  EXPECT_EQ(
      log.waitFor("\"PTR IN 99\\.0\\.96\\.10\\.in-addr\\.arpa\\. udp .*\" NXDOMAIN ", 1).size(), 1u)
      << ::testing::PrintToString(log.lines());
  EXPECT_THAT(log.matching("11\\.0\\.96\\.10\\.in-addr"), ::testing::IsEmpty());
}

/// The value of `sample` ("name{labels}") in `text`, or -1 when absent.
double sampleValue(const std::string& text, const std::string& sample) {
  auto pos = text.find("\n" + sample + " ");
  return pos == std::string::npos ? -1 : std::stod(text.substr(pos + sample.size() + 2));
}

// node-cache 1.26's series (issue 13): the upstream connection cache (a query on the open TCP
// connection is a hit, one that dials a miss; UDP dials every attempt), all upstreams of a block
// down, and the constant ones (panics, cache drops), each with CoreDNS's TYPE line.
TEST(ServerFeatures, ConnCacheHealthcheckBrokenPanicsAndCacheDropsAsCoreDns) {
  NLD_ENTER_NETNS();
  TempDir dir;
  Nsd nsd(dir);
  ASSERT_TRUE(nsd.ok()) << nsd.error();
  auto server = startServer(defaultCorefile(), 1);
  ASSERT_NE(server, nullptr);
  const std::string to = "proxy_name=\"forward\",to=\"127.0.0.2:5300\",proto=";
  std::string m = server->renderMetrics();
  for (const char* type :
       {"# TYPE coredns_proxy_conn_cache_hits_total counter",
        "# TYPE coredns_proxy_conn_cache_misses_total counter",
        "# TYPE coredns_forward_healthcheck_broken_total counter",
        "# TYPE coredns_panics_total counter", "# TYPE coredns_cache_drops_total counter"}) {
    EXPECT_THAT(m, HasSubstr(type));
  }
  EXPECT_EQ(sampleValue(m, "coredns_proxy_conn_cache_hits_total{" + to + "\"tcp\"}"), 0);
  EXPECT_EQ(sampleValue(m, "coredns_forward_healthcheck_broken_total"), 0);

  // cluster.local forces TCP: one worker, one connection, five queries = 1 miss + 4 hits.
  for (int i = 2; i <= 6; ++i) {
    ASSERT_EQ(status(dig("svc" + std::to_string(i) + ".default.svc.cluster.local A")), "NOERROR");
  }
  // `.` forwards over UDP: a new socket per attempt, a miss each.
  dig("www.example.org A");
  m = server->renderMetrics();
  EXPECT_EQ(sampleValue(m, "coredns_proxy_conn_cache_misses_total{" + to + "\"tcp\"}"), 1) << m;
  EXPECT_EQ(sampleValue(m, "coredns_proxy_conn_cache_hits_total{" + to + "\"tcp\"}"), 4) << m;
  EXPECT_EQ(sampleValue(m, "coredns_proxy_conn_cache_misses_total{" + to + "\"udp\"}"), 1) << m;
  EXPECT_EQ(sampleValue(m, "coredns_proxy_conn_cache_hits_total{" + to + "\"udp\"}"), 0) << m;

  // The only upstream dies: after max_fails (2) failures it is down, and every further query of
  // the block finds all its upstreams down.
  nsd.stop();
  double broken = 0;
  for (int i = 10; i < 30 && broken <= 0; ++i) {
    dig("svc" + std::to_string(i) + ".default.svc.cluster.local A");
    broken = sampleValue(server->renderMetrics(), "coredns_forward_healthcheck_broken_total");
  }
  EXPECT_GT(broken, 0);

  m = server->renderMetrics();
  EXPECT_THAT(m, HasSubstr("\ncoredns_panics_total 0\n"));
  EXPECT_THAT(m, HasSubstr("\ncoredns_cache_drops_total{server=\"dns://127.0.0.1:53\","
                           "zones=\"cluster.local.\",view=\"\"} 0\n"));
}

}  // namespace
}  // namespace nld::test
