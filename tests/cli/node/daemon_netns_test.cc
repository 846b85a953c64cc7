// Daemon probes that read the namespace's sockets (/proc/net/udp{,6}) or talk UDP: each TEST in
// a throw-away network namespace, so no other process's socket can change the answer.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <thread>

#include "base/fd.h"
#include "cli/node/daemon.h"
#include "tests/support/netns.h"

namespace nld::cli {
namespace {

// Binds a UDP socket of `family` to `addr` port 0 (IPV6_V6ONLY as given for IPv6); returns the
// port, 0 on failure.
uint16_t bindUdp(int family, const char* addr, Fd& fd, bool v6only = true) {
  fd = Fd(::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (family == AF_INET6) {
    int on = v6only ? 1 : 0;
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
  }
  sockaddr_storage ss{};
  socklen_t len = SocketAddress{*IpAddress::parse(addr), 0}.toSockaddr(ss);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return 0;
  }
  return SocketAddress::fromSockaddr(ss).port;
}

SocketAddress at(const char* ip, uint16_t port) { return {*IpAddress::parse(ip), port}; }

TEST(NodeDaemonNetns, DnsPortBoundSeesExactAndWildcardBinds) {
  NLD_ENTER_NETNS();
  Fd v4;
  uint16_t port = bindUdp(AF_INET, "127.0.0.1", v4);
  ASSERT_NE(port, 0);
  EXPECT_TRUE(dnsPortBound(at("127.0.0.1", port)));
  v4.reset();
  EXPECT_FALSE(dnsPortBound(at("127.0.0.1", port)));
  Fd any6;
  uint16_t port6 = bindUdp(AF_INET6, "::", any6);
  ASSERT_NE(port6, 0);
  EXPECT_TRUE(dnsPortBound(at("::1", port6)));
  EXPECT_FALSE(dnsPortBound(at("::1", static_cast<uint16_t>(port6 ^ 1))));
}

// gap: an IPv4 address served by an IPv6 socket (`::` without V6ONLY, or bound to the v4-mapped
// address) is listed only in /proc/net/udp6; dnsPortBound read only /proc/net/udp for IPv4.
TEST(NodeDaemonNetns, DnsPortBoundSeesIpv4ServedByAnIpv6Socket) {
  NLD_ENTER_NETNS();
  Fd dual;
  uint16_t port = bindUdp(AF_INET6, "::", dual, /*v6only=*/false);
  ASSERT_NE(port, 0);
  EXPECT_TRUE(dnsPortBound(at("127.0.0.1", port)));
  dual.reset();
  EXPECT_FALSE(dnsPortBound(at("127.0.0.1", port)));
  Fd mapped;
  uint16_t mport = bindUdp(AF_INET6, "::ffff:127.0.0.1", mapped, /*v6only=*/false);
  ASSERT_NE(mport, 0);
  EXPECT_TRUE(dnsPortBound(at("127.0.0.1", mport)));
  EXPECT_FALSE(dnsPortBound(at("127.0.0.2", mport)));
}

// The install probe is the daemon's own health query (CH TXT health.nodelocaldns.), which it
// answers without upstreams; any reply with our ID counts.
TEST(NodeDaemonNetns, DaemonProbeSendsTheHealthQuery) {
  NLD_ENTER_NETNS();
  Fd server;
  uint16_t port = bindUdp(AF_INET, "127.0.0.1", server);
  ASSERT_NE(port, 0);
  std::string seen;
  std::thread responder([&] {
    pollfd p{server.get(), POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) {
      return;
    }
    uint8_t buf[512];
    sockaddr_storage from{};
    socklen_t len = sizeof(from);
    ssize_t n =
        ::recvfrom(server.get(), buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 12) {
      return;
    }
    seen.assign(reinterpret_cast<char*>(buf) + 12, static_cast<size_t>(n) - 12);
    buf[2] |= 0x80;  // QR: a response, NOERROR, no records
    ::sendto(server.get(), buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), len);
  });
  EXPECT_TRUE(daemonAnswersProbe(at("127.0.0.1", port), std::chrono::milliseconds(3000)));
  responder.join();
  EXPECT_EQ(seen, std::string("\x06health\x0cnodelocaldns\x00\x00\x10\x00\x03", 25));
  // Nothing answers: false once the timeout is over, not before.
  server.reset();
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(daemonAnswersProbe(at("127.0.0.1", port), std::chrono::milliseconds(300)));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(300));
}

}  // namespace
}  // namespace nld::cli
