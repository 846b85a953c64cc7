#include <gtest/gtest.h>

#include "resolver/config/config.h"

namespace nld::resolver::config {
namespace {

SocketAddress sa(const char* s) { return SocketAddress{*IpAddress::parse(s), 53}; }

TEST(ResolvConf, NameserverLinesOnly) {
  auto rc = parseResolvConf(
      "# comment\n"
      "; another comment\n"
      "domain example.org\n"
      "search example.org svc.cluster.local\n"
      "nameserver 192.0.2.1\n"
      "  nameserver\t2001:db8::1  \n"
      "nameserver fe80::1%eth0\n"
      "options ndots:5 timeout:1 attempts:2 rotate\n"
      "#nameserver 192.0.2.99\n"
      "nameserver 192.0.2.2 # trailing comment\n"
      "nameserver\n"
      "nameserver dns.example\n"
      "nameservers 192.0.2.98\n");
  EXPECT_EQ(rc.nameservers,
            (std::vector<SocketAddress>{sa("192.0.2.1"), sa("2001:db8::1"), sa("192.0.2.2")}));
  ASSERT_EQ(rc.notes.size(), 3u);
  EXPECT_EQ(rc.notes[0],
            "line 7: 'fe80::1%eth0' is IPv6 link-local (needs an interface scope, "
            "not supported), ignoring");
  EXPECT_EQ(rc.notes[1], "line 11: nameserver without address, ignoring");
  EXPECT_EQ(rc.notes[2], "line 12: 'dns.example' is not an IP address, ignoring");
}

TEST(ResolvConf, ZoneIdOnAGlobalAddressIsStripped) {
  auto rc = parseResolvConf("nameserver 2001:db8::53%eth0\n");
  EXPECT_EQ(rc.nameservers, std::vector<SocketAddress>{sa("2001:db8::53")});
  EXPECT_TRUE(rc.notes.empty());
}

TEST(ResolvConf, EmptyAndCrlf) {
  EXPECT_TRUE(parseResolvConf("").nameservers.empty());
  EXPECT_TRUE(parseResolvConf("\n\n").nameservers.empty());
  auto rc = parseResolvConf("nameserver 192.0.2.1\r\nnameserver 192.0.2.2");
  EXPECT_EQ(rc.nameservers.size(), 2u);
}

}  // namespace
}  // namespace nld::resolver::config
