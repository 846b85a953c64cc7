// `errors` / `log` output: CoreDNS's line formats and the per-worker error rate limit.
#include "resolver/server/query_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <vector>

#include "resolver/forward/forwarder.h"

namespace nld::resolver::server {
namespace {

using std::chrono::milliseconds;

TEST(ErrorLimiter, AdmitsABurstPerSecondThenCountsAndReportsTheRest) {
  ErrorLimiter l;
  const net::MonoTime t0 = net::MonoTime{} + std::chrono::hours(1);
  unsigned logged = 0;
  for (int i = 0; i < 1000; ++i) {
    auto v = l.admit(t0 + milliseconds(i / 10));  // 1000 errors within 100 ms
    logged += v.log ? 1 : 0;
    EXPECT_EQ(v.suppressed, 0u);
  }
  EXPECT_EQ(logged, ErrorLimiter::kPerSecond);
  EXPECT_EQ(l.flush(t0 + milliseconds(500)), 0u);  // window still open
  // A tick after the window: the summary count, once.
  EXPECT_EQ(l.flush(t0 + milliseconds(1000)), 1000u - ErrorLimiter::kPerSecond);
  EXPECT_EQ(l.flush(t0 + milliseconds(2500)), 0u);
  // Or: the next error after the window carries the count of the previous one.
  for (int i = 0; i < 15; ++i) {
    l.admit(t0 + milliseconds(3000));
  }
  auto v = l.admit(t0 + milliseconds(4200));
  EXPECT_TRUE(v.log);
  EXPECT_EQ(v.suppressed, 5u);
}

TEST(ConsolidateRule, MatchesLikeGoMatchStringAndSummarizesLikeCoreDns) {
  ConsolidateRule r;
  r.re = std::regex(".* i/o timeout$");
  r.pattern = ".* i/o timeout$";
  r.period_text = "5m0s";
  EXPECT_TRUE(r.matches("read udp 10.96.0.10:53: i/o timeout"));
  EXPECT_FALSE(r.matches("read udp 10.96.0.10:53: i/o timeout, retrying"));
  r.pattern = "refused";
  r.re = std::regex(r.pattern);  // unanchored: a substring match, as Go's MatchString
  EXPECT_TRUE(r.matches("read udp 10.96.0.10:53: read: connection refused"));
  EXPECT_EQ(r.summary(42), "42 errors like 'refused' occurred in last 5m0s");
}

TEST(ForwardFailure, DescribesLikeGoNetErrors) {
  forward::Failure f;
  f.upstream = *SocketAddress::parse("10.96.0.10:53", 53);
  EXPECT_EQ(f.describe(), "no healthy upstreams");
  f.kind = forward::Failure::Kind::kTimeout;
  EXPECT_EQ(f.describe(), "read udp 10.96.0.10:53: i/o timeout");
  f.kind = forward::Failure::Kind::kRead;
  f.sys_errno = ECONNREFUSED;
  EXPECT_EQ(f.describe(), "read udp 10.96.0.10:53: read: connection refused");
  f.kind = forward::Failure::Kind::kConnect;
  f.tcp = true;
  EXPECT_EQ(f.describe(), "dial tcp 10.96.0.10:53: connect: connection refused");
  f.sys_errno = 0;
  EXPECT_EQ(f.describe(), "dial tcp 10.96.0.10:53: connect: failed (reconnect backoff)");
  f.kind = forward::Failure::Kind::kClosed;
  EXPECT_EQ(f.describe(), "read tcp 10.96.0.10:53: connection closed");
  f.kind = forward::Failure::Kind::kAborted;
  EXPECT_EQ(f.describe(), "server shutting down");
}

TEST(QueryLog, ErrorLineMatchesCoreDns) {
  EXPECT_EQ(formatError(2, "example.org.", 1, "read udp 10.96.0.10:53: i/o timeout"),
            "2 example.org. A: read udp 10.96.0.10:53: i/o timeout");
  EXPECT_EQ(formatError(5, ".", 2, "concurrent queries exceeded maximum 10"),
            "5 . NS: concurrent queries exceeded maximum 10");
}

TEST(QueryLog, Mnemonics) {
  EXPECT_EQ(typeText(1), "A");
  EXPECT_EQ(typeText(28), "AAAA");
  EXPECT_EQ(typeText(65), "HTTPS");
  EXPECT_EQ(typeText(999), "TYPE999");
  EXPECT_EQ(classText(1), "IN");
  EXPECT_EQ(classText(3), "CH");
  EXPECT_EQ(classText(77), "CLASS77");
  EXPECT_EQ(flagsText(0x8580), "qr,aa,rd,ra");
  EXPECT_EQ(flagsText(0x8000 | 0x0200 | 0x0020 | 0x0010), "qr,tc,ad,cd");
  EXPECT_EQ(flagsText(0), "");
  EXPECT_EQ(logClassOf(dns::ResponseType::kNoError), 1);
  EXPECT_EQ(logClassOf(dns::ResponseType::kDelegation), 1);
  EXPECT_EQ(logClassOf(dns::ResponseType::kNameError), 2);
  EXPECT_EQ(logClassOf(dns::ResponseType::kNoData), 2);
  EXPECT_EQ(logClassOf(dns::ResponseType::kServerError), 4);
  EXPECT_EQ(logClassOf(dns::ResponseType::kOtherError), 4);
}

TEST(QueryLog, CommonLogFormatLikeCoreDns) {
  // NXDOMAIN answer header: id 0x1234, flags qr rd ra aa, rcode 3.
  std::vector<uint8_t> answer(70, 0);
  answer[0] = 0x12;
  answer[1] = 0x34;
  answer[2] = 0x85;
  answer[3] = 0x83;
  QueryLogLine l;
  l.client = *SocketAddress::parse("10.0.0.7:40312", 53);
  l.id = 0x1234;
  l.qtype = 28;
  l.qclass = 1;
  l.name = "nope.example.org.";
  l.size = 46;
  l.do_bit = true;
  l.bufsize = 1232;
  l.answer = answer;
  l.duration_ns = 271500;
  EXPECT_EQ(formatQueryLog(l),
            "10.0.0.7:40312 - 4660 \"AAAA IN nope.example.org. udp 46 true 1232\" NXDOMAIN "
            "qr,aa,rd,ra 70 0.0002715s");
  l.client = *SocketAddress::parse("[fd00::1]:53000", 53);
  l.tcp = true;
  l.do_bit = false;
  l.bufsize = 65535;
  l.duration_ns = 2000000000;
  l.combined = true;
  EXPECT_EQ(formatQueryLog(l),
            "[fd00::1]:53000 - 4660 \"AAAA IN nope.example.org. tcp 46 false 65535\" NXDOMAIN "
            "qr,aa,rd,ra 70 2s \"QUERY\"");
}

}  // namespace
}  // namespace nld::resolver::server
