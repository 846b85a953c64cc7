// The point of the rules: DNS to the node-local address makes no conntrack entry. In a private
// namespace with the address on a bridge link (made with `ip`, not the link library), a UDP and a
// TCP exchange with 169.254.20.10:53 (and [fd00::10]:53) are tracked without our rules and
// untracked with them.
//
// Conntrack only hooks a namespace once something there needs it, so both cases first add an
// ordinary stateful accept rule (`-m conntrack --ctstate ESTABLISHED,RELATED`), as real nodes have.
// The nftables backend is checked the same way on an nftables-only host (the stateful rule in an
// `inet filter` table, no legacy table at all).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ostream>
#include <thread>

#include "base/fd.h"
#include "base/ip.h"
#include "netcfg/rules/rules.h"
#include "tests/support/netns.h"

namespace nld::netcfg {
namespace {

struct Case {
  const char* name;
  const char* ip;
  const char* ip_cmd;  // adds the address to the link
  const char* bin;
  const char* conntrack_family;
};

const Case kV4{"IPv4", "169.254.20.10", "ip addr add 169.254.20.10/32 dev nodelocaldns",
               "iptables-legacy", "ipv4"};
const Case kV6{"IPv6", "fd00::10", "ip addr add fd00::10/128 dev nodelocaldns nodad",
               "ip6tables-legacy", "ipv6"};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::string setUpNode(const Case& c, bool nft_host = false) {
  std::string stateful =
      nft_host ? std::string(
                     "nft 'add table inet filter; add chain inet filter input { type filter hook "
                     "input priority 0; }; add rule inet filter input ct state established,related "
                     "accept'")
               : std::string(c.bin) +
                     " -w -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT";
  for (std::string cmd : {
           std::string("ip link add nodelocaldns type bridge"),
           std::string(c.ip_cmd),
           std::string("ip link set nodelocaldns up"),
           stateful,
       }) {
    auto r = test::run(cmd);
    if (r.exit_code != 0) {
      return cmd + ": " + r.out;
    }
  }
  // IPv6 installs the local route only once linkwatch has marked the link operational, which
  // happens asynchronously after `ip link set up`: poll for it (deadline 3 s).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  std::string check = std::string("ip route show table local ") + c.ip;
  if (std::string(c.ip).find(':') != std::string::npos) {
    check = std::string("ip -6 route show table local ") + c.ip;
  }
  while (test::run(check).out.find("local") == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline) {
      return std::string("no local route for ") + c.ip + " after 3s";
    }
    std::this_thread::yield();
  }
  return "";
}

struct Addr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family() const { return ss.ss_family; }
  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&ss); }
};

Addr localAddr(const Case& c, uint16_t port) {
  Addr a;
  a.len = SocketAddress{*IpAddress::parse(c.ip), port}.toSockaddr(a.ss);
  return a;
}

bool waitReadable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 3000) == 1;
}

// A DNS query for example. A IN; the server echoes it (only the flow matters here).
constexpr std::array<uint8_t, 25> kQuery = {0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
                                            0x00, 0x00, 0x00, 7,    'e',  'x',  'a',  'm',  'p',
                                            'l',  'e',  0,    0x00, 0x01, 0x00, 0x01};

// One UDP query and its echoed reply through 169.254.20.10:53. "" on success.
std::string udpExchange(const Case& c) {
  Addr sa = localAddr(c, 53);
  Fd server(::socket(sa.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (::bind(server.get(), sa.sa(), sa.len) != 0) {
    return std::string("bind udp ") + c.ip + " port 53 failed";
  }
  std::thread echo([fd = server.get()] {
    if (!waitReadable(fd)) {
      return;
    }
    std::array<uint8_t, 512> buf;
    sockaddr_storage from{};
    socklen_t len = sizeof(from);
    ssize_t n = ::recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n > 0) {
      ::sendto(fd, buf.data(), static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), len);
    }
  });
  Fd client(::socket(sa.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
  std::string err;
  std::array<uint8_t, 512> reply;
  if (::sendto(client.get(), kQuery.data(), kQuery.size(), 0, sa.sa(), sa.len) < 0) {
    err = std::string("sendto: ") + std::strerror(errno);
  } else if (!waitReadable(client.get()) || ::recv(client.get(), reply.data(), reply.size(), 0) !=
                                                static_cast<ssize_t>(kQuery.size())) {
    err = "no UDP reply";
  }
  echo.join();
  return err;
}

// One TCP connection (DNS over TCP framing) to 169.254.20.10:53. "" on success.
std::string tcpExchange(const Case& c) {
  Addr sa = localAddr(c, 53);
  Fd listener(::socket(sa.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (::bind(listener.get(), sa.sa(), sa.len) != 0 || ::listen(listener.get(), 1) != 0) {
    return std::string("bind/listen tcp ") + c.ip + " port 53 failed";
  }
  std::thread echo([fd = listener.get()] {
    if (!waitReadable(fd)) {
      return;
    }
    Fd conn(::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC));
    std::array<uint8_t, 512> buf;
    if (waitReadable(conn.get())) {
      ssize_t n = ::recv(conn.get(), buf.data(), buf.size(), 0);
      if (n > 0) {
        ::send(conn.get(), buf.data(), static_cast<size_t>(n), MSG_NOSIGNAL);
      }
    }
  });
  Fd client(::socket(sa.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  std::string err;
  if (::connect(client.get(), sa.sa(), sa.len) != 0) {
    err = "tcp connect failed";
  } else {
    std::array<uint8_t, 27> framed{0, static_cast<uint8_t>(kQuery.size())};
    std::copy(kQuery.begin(), kQuery.end(), framed.begin() + 2);
    ::send(client.get(), framed.data(), framed.size(), MSG_NOSIGNAL);
    std::array<uint8_t, 512> reply;
    if (!waitReadable(client.get()) || ::recv(client.get(), reply.data(), reply.size(), 0) <= 0) {
      err = "no TCP reply";
    }
  }
  echo.join();
  return err;
}

// Conntrack entries of this namespace whose original direction goes to port 53.
int trackedDnsFlows(const Case& c, const std::string& proto) {
  auto r = test::run(std::string("conntrack -L -f ") + c.conntrack_family + " -p " + proto +
                     " 2>/dev/null");
  int n = 0;
  for (size_t at = 0; (at = r.out.find("dport=53 ", at)) != std::string::npos; ++at) {
    ++n;
  }
  // Each entry prints the original and the reply tuple; only the original has dport=53 here
  // (the reply's dport is the client's port), so n counts entries.
  return n;
}

class NotrackEffect : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override { ::setenv("XTABLES_LOCKFILE", dir_.file("xtables.lock").c_str(), 1); }
  test::TempDir dir_;
};

TEST_P(NotrackEffect, WithoutRulesTheDnsFlowIsTracked) {
  NLD_ENTER_NETNS();
  const Case& c = GetParam();
  ASSERT_EQ(setUpNode(c), "");
  ASSERT_EQ(udpExchange(c), "");
  ASSERT_EQ(tcpExchange(c), "");
  EXPECT_GE(trackedDnsFlows(c, "udp"), 1) << test::run("conntrack -L 2>&1").out;
  EXPECT_GE(trackedDnsFlows(c, "tcp"), 1) << test::run("conntrack -L 2>&1").out;
}

TEST_P(NotrackEffect, WithRulesTheDnsFlowIsNotTracked) {
  NLD_ENTER_NETNS();
  const Case& c = GetParam();
  ASSERT_EQ(setUpNode(c), "");
  RulesOptions options;
  options.lock_path = dir_.file("xtables.lock");
  auto r = ensureRules({{*IpAddress::parse(c.ip)}, 53, 8080}, options);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  ASSERT_EQ(udpExchange(c), "");
  ASSERT_EQ(tcpExchange(c), "");
  EXPECT_EQ(trackedDnsFlows(c, "udp"), 0) << test::run("conntrack -L 2>&1").out;
  EXPECT_EQ(trackedDnsFlows(c, "tcp"), 0) << test::run("conntrack -L 2>&1").out;
  // The rules did match: the query's NOTRACK rule in raw OUTPUT counted packets.
  auto save = test::run(std::string(c.bin) + "-save -c -t raw").out;
  std::string prefix = c.ip == std::string(kV4.ip) ? "/32" : "/128";
  auto at = save.find(std::string("-A OUTPUT -d ") + c.ip + prefix + " -p udp -m udp --dport 53 ");
  ASSERT_NE(at, std::string::npos) << save;
  auto line_start = save.rfind('\n', at) + 1;
  EXPECT_NE(save.substr(line_start, 3), "[0:") << save;
}

TEST_P(NotrackEffect, NftHostWithoutRulesTheDnsFlowIsTracked) {
  NLD_ENTER_NETNS();
  const Case& c = GetParam();
  ASSERT_EQ(setUpNode(c, true), "");
  ASSERT_EQ(udpExchange(c), "");
  ASSERT_EQ(tcpExchange(c), "");
  EXPECT_GE(trackedDnsFlows(c, "udp"), 1) << test::run("conntrack -L 2>&1").out;
  EXPECT_GE(trackedDnsFlows(c, "tcp"), 1) << test::run("conntrack -L 2>&1").out;
}

TEST_P(NotrackEffect, WithNftablesRulesTheDnsFlowIsNotTracked) {
  NLD_ENTER_NETNS();
  const Case& c = GetParam();
  ASSERT_EQ(setUpNode(c, true), "");
  RulesOptions options;
  options.backend = RulesBackend::kNftables;
  auto r = ensureRules({{*IpAddress::parse(c.ip)}, 53, 8080}, options);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  ASSERT_EQ(udpExchange(c), "");
  ASSERT_EQ(tcpExchange(c), "");
  EXPECT_EQ(trackedDnsFlows(c, "udp"), 0) << test::run("conntrack -L 2>&1").out;
  EXPECT_EQ(trackedDnsFlows(c, "tcp"), 0) << test::run("conntrack -L 2>&1").out;
  // Only nftables was used: no legacy table exists in the namespace.
  EXPECT_EQ(test::run("cat /proc/net/ip_tables_names /proc/net/ip6_tables_names 2>/dev/null").out,
            "");
}

INSTANTIATE_TEST_SUITE_P(Families, NotrackEffect, ::testing::Values(kV4, kV6),
                         [](const auto& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace nld::netcfg
