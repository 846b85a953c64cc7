// The point of the rules: DNS to the node-local address makes no conntrack entry. In a private
// namespace with the address on a bridge link (made with `ip`, not the link library), a UDP and a
// TCP exchange with 169.254.20.10:53 are tracked without our rules and untracked with them.
//
// Conntrack only hooks a namespace once something there needs it, so both cases first add an
// ordinary stateful accept rule (`-m conntrack --ctstate ESTABLISHED,RELATED`), as real nodes have.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <thread>

#include "base/fd.h"
#include "netcfg/rules.h"
#include "tests/support/netns.h"

namespace nld::netcfg {
namespace {

constexpr const char* kLocalIp = "169.254.20.10";

std::string setUpNode() {
  for (const char* cmd : {
           "ip link add nodelocaldns type bridge",
           "ip addr add 169.254.20.10/32 dev nodelocaldns",
           "ip link set nodelocaldns up",
           "iptables-legacy -w -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
       }) {
    auto r = test::run(cmd);
    if (r.exit_code != 0) {
      return std::string(cmd) + ": " + r.out;
    }
  }
  return "";
}

sockaddr_in localAddr(uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, kLocalIp, &sa.sin_addr);
  return sa;
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
std::string udpExchange() {
  Fd server(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in sa = localAddr(53);
  if (::bind(server.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    return "bind udp 169.254.20.10:53 failed";
  }
  std::thread echo([fd = server.get()] {
    if (!waitReadable(fd)) {
      return;
    }
    std::array<uint8_t, 512> buf;
    sockaddr_in from{};
    socklen_t len = sizeof(from);
    ssize_t n = ::recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n > 0) {
      ::sendto(fd, buf.data(), static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), len);
    }
  });
  Fd client(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ::sendto(client.get(), kQuery.data(), kQuery.size(), 0, reinterpret_cast<sockaddr*>(&sa),
           sizeof(sa));
  std::string err;
  std::array<uint8_t, 512> reply;
  if (!waitReadable(client.get()) || ::recv(client.get(), reply.data(), reply.size(), 0) !=
                                         static_cast<ssize_t>(kQuery.size())) {
    err = "no UDP reply";
  }
  echo.join();
  return err;
}

// One TCP connection (DNS over TCP framing) to 169.254.20.10:53. "" on success.
std::string tcpExchange() {
  Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sa = localAddr(53);
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 ||
      ::listen(listener.get(), 1) != 0) {
    return "bind/listen tcp 169.254.20.10:53 failed";
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
  Fd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  std::string err;
  if (::connect(client.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
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
int trackedDnsFlows(const std::string& proto) {
  auto r = test::run("conntrack -L -p " + proto + " 2>/dev/null");
  int n = 0;
  for (size_t at = 0; (at = r.out.find("dport=53 ", at)) != std::string::npos; ++at) {
    ++n;
  }
  // Each entry prints the original and the reply tuple; only the original has dport=53 here
  // (the reply's dport is the client's port), so n counts entries.
  return n;
}

TEST(NotrackEffect, WithoutRulesTheDnsFlowIsTracked) {
  NLD_ENTER_NETNS();
  ASSERT_EQ(setUpNode(), "");
  ASSERT_EQ(udpExchange(), "");
  ASSERT_EQ(tcpExchange(), "");
  EXPECT_GE(trackedDnsFlows("udp"), 1) << test::run("conntrack -L 2>&1").out;
  EXPECT_GE(trackedDnsFlows("tcp"), 1) << test::run("conntrack -L 2>&1").out;
}

TEST(NotrackEffect, WithRulesTheDnsFlowIsNotTracked) {
  NLD_ENTER_NETNS();
  ASSERT_EQ(setUpNode(), "");
  test::TempDir dir;
  RulesOptions options;
  options.lock_path = dir.file("xtables.lock");
  auto r = ensureRules({{*IpAddress::parse(kLocalIp)}, 53, 8080}, options);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  ASSERT_EQ(udpExchange(), "");
  ASSERT_EQ(tcpExchange(), "");
  EXPECT_EQ(trackedDnsFlows("udp"), 0) << test::run("conntrack -L 2>&1").out;
  EXPECT_EQ(trackedDnsFlows("tcp"), 0) << test::run("conntrack -L 2>&1").out;
  // The rules did match: the query's NOTRACK rule in raw OUTPUT counted packets.
  auto save = test::run("iptables-legacy-save -c -t raw").out;
  auto at = save.find("-A OUTPUT -d 169.254.20.10/32 -p udp -m udp --dport 53 ");
  ASSERT_NE(at, std::string::npos) << save;
  auto line_start = save.rfind('\n', at) + 1;
  EXPECT_NE(save.substr(line_start, 3), "[0:") << save;
}

}  // namespace
}  // namespace nld::netcfg
