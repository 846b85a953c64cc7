#include "base/ip.h"

#include <gtest/gtest.h>

namespace nld {
namespace {

TEST(IpAddress, ParsesBothFamilies) {
  auto v4 = IpAddress::parse("169.254.20.10");
  ASSERT_TRUE(v4);
  EXPECT_TRUE(v4->isV4());
  EXPECT_EQ(v4->toString(), "169.254.20.10");
  auto v6 = IpAddress::parse("FD00:0::10");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->isV6());
  EXPECT_EQ(v6->toString(), "fd00::10");
  EXPECT_EQ(v6->toUrlHost(), "[fd00::10]");
}

TEST(IpAddress, RejectsGarbage) {
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "10.0.0.1/32", "[::1]",
                          "fe80::1%eth0", " 1.2.3.4", "hello"}) {
    EXPECT_FALSE(IpAddress::parse(bad)) << bad;
  }
  auto r = IpAddress::parseOrError("nope");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "invalid IP address 'nope'");
  EXPECT_EQ(r.error().code(), Errc::kInvalidArgument);
}

TEST(SocketAddress, ParsesHostPortForms) {
  struct Case {
    const char* in;
    const char* out;
  } cases[] = {{"1.2.3.4", "1.2.3.4:53"},
               {"1.2.3.4:5353", "1.2.3.4:5353"},
               {"fd00::1", "[fd00::1]:53"},
               {"[fd00::1]:5300", "[fd00::1]:5300"},
               {"[fd00::1]", "[fd00::1]:53"}};
  for (const auto& c : cases) {
    auto sa = SocketAddress::parse(c.in, 53);
    ASSERT_TRUE(sa) << c.in;
    EXPECT_EQ(sa->toString(), c.out);
    sockaddr_storage ss;
    sa->toSockaddr(ss);
    EXPECT_EQ(SocketAddress::fromSockaddr(ss), *sa);
  }
  for (const char* bad : {"1.2.3.4:0", "1.2.3.4:70000", "[fd00::1", "[fd00::1]x", "host:53"}) {
    EXPECT_FALSE(SocketAddress::parse(bad, 53)) << bad;
  }
}

}  // namespace
}  // namespace nld
