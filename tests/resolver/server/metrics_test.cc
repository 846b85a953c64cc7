#include "resolver/metrics/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <sstream>

namespace nld::resolver::metrics {
namespace {

using ::testing::HasSubstr;

TEST(Metrics, TypeLabelsFollowCoreDnsFixedList) {
  EXPECT_STREQ(typeLabel(typeIndex(1)), "A");
  EXPECT_STREQ(typeLabel(typeIndex(28)), "AAAA");
  EXPECT_STREQ(typeLabel(typeIndex(33)), "SRV");
  EXPECT_STREQ(typeLabel(typeIndex(65)), "HTTPS");
  EXPECT_STREQ(typeLabel(typeIndex(99)), "other");
  EXPECT_STREQ(rcodeLabel(rcodeIndex(3)), "NXDOMAIN");
  EXPECT_STREQ(rcodeLabel(rcodeIndex(16)), "BADVERS");
}

TEST(Metrics, SumsWorkersAndRendersCoreDnsNames) {
  Registry r(2);
  ZoneStats* z = r.zone("dns://169.254.20.10:53", "cluster.local.");
  z[0].requests[0][0][typeIndex(1)].inc();
  z[1].requests[0][0][typeIndex(1)].inc(2);
  z[1].responses[0][0].inc();
  z[0].duration[typeIndex(1)].observe(100000);   // 0.1 ms -> first bucket
  z[1].duration[typeIndex(1)].observe(3000000);  // 3 ms -> le=0.004
  CacheStats* c = r.cache("dns://169.254.20.10:53", "cluster.local.");
  c[1].hits[0].inc(5);
  UpstreamStats* u = r.upstream("10.96.0.10:53");
  u[0].duration[0].observe(1000000);
  r.maxConcurrentRejects()[1].inc();
  CacheGauge g;
  g.server = "dns://169.254.20.10:53";
  g.zones = "cluster.local.";
  g.entries[0] = 7;
  std::string text = r.render({g}, "0.1.0");
  EXPECT_THAT(text, HasSubstr("coredns_dns_requests_total{server=\"dns://169.254.20.10:53\","
                              "zone=\"cluster.local.\",view=\"\",proto=\"udp\",family=\"1\","
                              "type=\"A\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("coredns_dns_responses_total{server=\"dns://169.254.20.10:53\","
                              "zone=\"cluster.local.\",view=\"\",rcode=\"NOERROR\","
                              "plugin=\"cache\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("coredns_dns_request_duration_seconds_bucket{server=\"dns://"
                              "169.254.20.10:53\",zone=\"cluster.local.\",view=\"\",type=\"A\","
                              "le=\"0.00025\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(",type=\"A\",le=\"0.004\"} 2\n"));
  EXPECT_THAT(text, HasSubstr(",type=\"A\",le=\"+Inf\"} 2\n"));
  EXPECT_THAT(text,
              HasSubstr("coredns_dns_request_duration_seconds_count{server=\"dns://"
                        "169.254.20.10:53\",zone=\"cluster.local.\",view=\"\",type=\"A\"} 2"));
  EXPECT_THAT(text, HasSubstr("coredns_cache_hits_total{server=\"dns://169.254.20.10:53\","
                              "zones=\"cluster.local.\",view=\"\",type=\"success\"} 5\n"));
  EXPECT_THAT(text, HasSubstr("coredns_cache_entries{server=\"dns://169.254.20.10:53\","
                              "zones=\"cluster.local.\",view=\"\",type=\"success\"} 7\n"));
  EXPECT_THAT(text, HasSubstr("coredns_proxy_request_duration_seconds_count{proxy_name="
                              "\"forward\",to=\"10.96.0.10:53\",rcode=\"NOERROR\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("coredns_forward_max_concurrent_rejects_total 1\n"));
  EXPECT_THAT(text, HasSubstr("coredns_build_info{version=\"0.1.0\""));
}

TEST(Metrics, TcpLimitCountersAreSummedOverWorkers) {
  Registry r(2);
  r.tcp()[0].close(false, TcpClose::kEvicted);
  r.tcp()[1].close(false, TcpClose::kEvicted);
  r.tcp()[1].close(true, TcpClose::kWriteTimeout);
  r.tcp()[0].pause(false, TcpPause::kOutput);
  r.tcp()[0].buffered_bytes.set(100);
  r.tcp()[1].buffered_bytes.set(23);
  std::string text = r.render({}, "x");
  EXPECT_THAT(text,
              HasSubstr("nodelocaldns_tcp_closed_total{side=\"client\",reason=\"evicted\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("nodelocaldns_tcp_closed_total{side=\"upstream\","
                              "reason=\"write_timeout\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("nodelocaldns_tcp_paused_total{side=\"client\",reason=\"output\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("nodelocaldns_tcp_buffered_bytes 123\n"));
}

TEST(Metrics, EveryFamilyHasHelpAndTypeAndEverySampleIsWellFormed) {
  Registry r(1);
  r.zone("dns://:53", ".")[0].requests[1][1][0].inc();
  r.cache("dns://:53", ".");
  r.upstream("1.1.1.1:53");
  r.zone("dns://:53", ".")[0].request_size[0].observe(30);
  r.zone("dns://:53", ".")[0].response_size[1].observe(300);
  r.zone("dns://:53", ".")[0].do_requests.inc();
  std::string text = r.render({}, "x", {{"dns://:53", ".", "cache"}});
  std::istringstream in(text);
  std::string line;
  std::set<std::string> typed;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      typed.insert(line.substr(7, line.find(' ', 7) - 7));
      continue;
    }
    if (line.rfind("# HELP ", 0) == 0) {
      continue;
    }
    // name[{labels}] value
    size_t name_end = line.find_first_not_of("abcdefghijklmnopqrstuvwxyz_");
    ASSERT_NE(name_end, std::string::npos) << line;
    ASSERT_GT(name_end, 0u) << line;
    std::string name = line.substr(0, name_end);
    size_t value_at = name_end;
    if (line[name_end] == '{') {
      value_at = line.find("} ", name_end);
      ASSERT_NE(value_at, std::string::npos) << line;
      value_at += 1;
    }
    ASSERT_EQ(line[value_at], ' ') << line;
    std::string value = line.substr(value_at + 1);
    ASSERT_FALSE(value.empty()) << line;
    EXPECT_EQ(value.find_first_not_of("0123456789.e+-"), std::string::npos) << line;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (!typed.count(name) && name.size() > strlen(suffix) &&
          name.compare(name.size() - strlen(suffix), strlen(suffix), suffix) == 0) {
        name = name.substr(0, name.size() - strlen(suffix));
      }
    }
    EXPECT_TRUE(typed.count(name)) << "no # TYPE before " << line;
  }
}

TEST(Metrics, SizeHistogramsDoRequestsAndPluginEnabledUseCoreDnsNamesAndBuckets) {
  Registry r(2);
  ZoneStats* z = r.zone("dns://169.254.20.10:53", "cluster.local.");
  z[0].request_size[0].observe(40);      // le=100
  z[1].request_size[0].observe(511);     // le=511
  z[0].request_size[1].observe(0);       // le=0, tcp
  z[1].response_size[0].observe(70000);  // above 64000: +Inf only
  z[0].do_requests.inc();
  z[1].do_requests.inc(2);
  ZoneStats* d = r.zone("dns://169.254.20.10:53", kDroppedZone);
  d[0].requests[0][0][typeIndex(1)].inc();
  std::vector<PluginEnabled> plugins = {{"dns://169.254.20.10:53", "cluster.local.", "cache"},
                                        {"dns://169.254.20.10:53", "cluster.local.", "errors"}};
  std::string text = r.render({}, "0.1.0", plugins);
  const std::string labels = "server=\"dns://169.254.20.10:53\",zone=\"cluster.local.\",view=\"\"";
  EXPECT_THAT(text, HasSubstr("# TYPE coredns_dns_request_size_bytes histogram\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE coredns_dns_response_size_bytes histogram\n"));
  EXPECT_THAT(text, HasSubstr("coredns_dns_request_size_bytes_bucket{" + labels +
                              ",proto=\"udp\",le=\"0\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("coredns_dns_request_size_bytes_bucket{" + labels +
                              ",proto=\"udp\",le=\"100\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("coredns_dns_request_size_bytes_bucket{" + labels +
                              ",proto=\"udp\",le=\"400\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("coredns_dns_request_size_bytes_bucket{" + labels +
                              ",proto=\"udp\",le=\"511\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("coredns_dns_request_size_bytes_bucket{" + labels +
                              ",proto=\"udp\",le=\"64000\"} 2\n"));
  EXPECT_THAT(text,
              HasSubstr("coredns_dns_request_size_bytes_sum{" + labels + ",proto=\"udp\"} 551\n"));
  EXPECT_THAT(text,
              HasSubstr("coredns_dns_request_size_bytes_count{" + labels + ",proto=\"tcp\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("coredns_dns_request_size_bytes_bucket{" + labels +
                              ",proto=\"tcp\",le=\"0\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("coredns_dns_response_size_bytes_bucket{" + labels +
                              ",proto=\"udp\",le=\"64000\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("coredns_dns_response_size_bytes_bucket{" + labels +
                              ",proto=\"udp\",le=\"+Inf\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("coredns_dns_do_requests_total{" + labels + "} 3\n"));
  EXPECT_THAT(text, HasSubstr("coredns_dns_requests_total{server=\"dns://169.254.20.10:53\","
                              "zone=\"dropped\",view=\"\",proto=\"udp\",family=\"1\","
                              "type=\"A\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE coredns_plugin_enabled gauge\n"));
  EXPECT_THAT(text, HasSubstr("coredns_plugin_enabled{" + labels + ",name=\"cache\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("coredns_plugin_enabled{" + labels + ",name=\"errors\"} 1\n"));
}

TEST(Metrics, LabelValuesAreEscaped) { EXPECT_EQ(escapeLabel("a\"b\\c\nd"), "a\\\"b\\\\c\\nd"); }

}  // namespace
}  // namespace nld::resolver::metrics
