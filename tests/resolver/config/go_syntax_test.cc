#include "resolver/config/go_syntax.h"

#include <gtest/gtest.h>

#include "resolver/config/sha256.h"

namespace nld::resolver::config::detail {
namespace {

using std::chrono::nanoseconds;

TEST(GoDuration, ParsesLikeTimeParseDuration) {
  struct Case {
    const char* text;
    int64_t ns;
  };
  const Case ok[] = {
      {"0", 0},
      {"5s", 5'000'000'000},
      {"300ms", 300'000'000},
      {"1.5h", 5'400'000'000'000},
      {"2h45m", 9'900'000'000'000},
      {"-1s", -1'000'000'000},
      {"+2m", 120'000'000'000},
      {"1us", 1000},
      {"1\xC2\xB5s", 1000},
      {"7ns", 7},
      {".5s", 500'000'000},
      {"1.s", 1'000'000'000},
      {"1m30s", 90'000'000'000},
  };
  for (const auto& c : ok) {
    auto d = parseGoDuration(c.text);
    ASSERT_TRUE(d) << c.text << ": " << d.error().message();
    EXPECT_EQ(d->count(), c.ns) << c.text;
  }
  for (const char* bad : {"", "10", "s", "1x", "1.5", "-", ".s", "1s2", "9999999999h", "1 s"}) {
    EXPECT_FALSE(parseGoDuration(bad)) << bad;
  }
  EXPECT_EQ(parseGoDuration("10").error().message(), "missing unit in duration '10'");
}

TEST(GoInt, ParsesLikeAtoi) {
  EXPECT_EQ(parseGoInt("30"), 30);
  EXPECT_EQ(parseGoInt("+30"), 30);
  EXPECT_EQ(parseGoInt("-5"), -5);
  EXPECT_EQ(parseGoInt("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(parseGoInt("-9223372036854775808"), INT64_MIN);
  for (const char* bad : {"", "+", "30s", " 1", "1 ", "0x10", "9223372036854775808", "1e3"}) {
    EXPECT_FALSE(parseGoInt(bad)) << bad;
  }
}

TEST(GoSplitHostPort, MatchesNetSplitHostPort) {
  auto hp = splitHostPort("1.2.3.4:53");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "1.2.3.4");
  EXPECT_EQ(hp->port, "53");
  hp = splitHostPort("[fd00::1]:8080");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "fd00::1");
  hp = splitHostPort(":9253");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "");
  EXPECT_EQ(hp->port, "9253");
  for (const char* bad :
       {"1.2.3.4", "fd00::1", "fd00::1:53", "[fd00::1]", "[fd00::1", "[a]b:1", "a[b]:1"}) {
    EXPECT_FALSE(splitHostPort(bad)) << bad;
  }
}

TEST(Zones, NormalizeAndMatch) {
  EXPECT_EQ(fqdnLower("Cluster.Local"), "cluster.local.");
  EXPECT_EQ(fqdnLower(""), ".");
  EXPECT_EQ(*normalizeZones("."), std::vector<std::string>{"."});
  EXPECT_EQ(*normalizeZones("192.168.0.0/16"), std::vector<std::string>{"168.192.in-addr.arpa."});
  EXPECT_EQ(normalizeZones("10.0.0.0/6")->size(), 4u);
  EXPECT_EQ(normalizeZones("10.0.0.0/6")->front(), "8.in-addr.arpa.");
  EXPECT_EQ(normalizeZones("fd00::/7")->size(), 2u);
  EXPECT_EQ(*normalizeZones("0.0.0.0/0"), std::vector<std::string>{"in-addr.arpa."});
  EXPECT_FALSE(normalizeZones("x/8"));
  EXPECT_FALSE(normalizeZones(std::string(64, 'a') + ".example"));
  EXPECT_TRUE(isSubdomain("a.b.example.", "example."));
  EXPECT_TRUE(isSubdomain("example.", "example."));
  EXPECT_FALSE(isSubdomain("badexample.", "example."));
  EXPECT_TRUE(isSubdomain("anything.", "."));
}

TEST(ListenAddress, HostsAndPorts) {
  EXPECT_EQ(*parseListenAddress(":8080"), (SocketAddress{IpAddress(), 8080}));
  EXPECT_EQ(*parseListenAddress("localhost:9153"),
            (SocketAddress{*IpAddress::parse("127.0.0.1"), 9153}));
  EXPECT_EQ(*parseListenAddress("127.0.0.1:0"), (SocketAddress{*IpAddress::parse("127.0.0.1"), 0}));
  EXPECT_FALSE(parseListenAddress("example.com:80"));
  EXPECT_FALSE(parseListenAddress("1.2.3.4:http"));
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

}  // namespace
}  // namespace nld::resolver::config::detail
