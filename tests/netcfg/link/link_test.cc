// The link module against the real kernel, each TEST in its own throw-away network namespace.
// Oracle: `ip -j addr` / `ip -d -j link` output, matched on the fields that matter.
#include "netcfg/link/link.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>

#include "base/fd.h"
#include "tests/support/netns.h"

namespace nld::netcfg {
namespace {

using test::run;

IpAddress ip(std::string_view s) { return *IpAddress::parse(s); }

LinkSpec spec(std::vector<IpAddress> addrs, LinkKind kind = LinkKind::kAuto) {
  LinkSpec s;
  s.kind = kind;
  s.addresses = std::move(addrs);
  return s;
}

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

std::string addrJson(const std::string& dev = "nodelocaldns") {
  auto r = run("ip -j addr show dev " + dev);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  return r.out;
}

std::string linkJson(const std::string& dev = "nodelocaldns") {
  auto r = run("ip -d -j link show dev " + dev);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  return r.out;
}

// `ip -j addr` entry for an address as we add it: exact prefix length, global scope.
std::string v4Entry(const std::string& a) {
  return "\"family\":\"inet\",\"local\":\"" + a + "\",\"prefixlen\":32,\"scope\":\"global\"";
}
std::string v6Entry(const std::string& a) {
  return "\"family\":\"inet6\",\"local\":\"" + a + "\",\"prefixlen\":128,\"scope\":\"global\"";
}

// "" if this kernel can create dummy links, else the reason (for GTEST_SKIP).
std::string dummyUnsupported() {
  auto r = run("ip link add nld-probe type dummy");
  if (r.exit_code != 0) {
    return "kernel has no dummy link type: " + r.out;
  }
  run("ip link del nld-probe");
  return "";
}

TEST(LinkNetns, ObserveAbsentLinkIsNullopt) {
  NLD_ENTER_NETNS();
  auto st = observeLink("nodelocaldns");
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_FALSE(st->has_value());
}

TEST(LinkNetns, AutoFallsBackToBridgeWithoutDummy) {
  NLD_ENTER_NETNS();
  if (dummyUnsupported().empty()) {
    GTEST_SKIP() << "kernel supports dummy links: no fallback to exercise";
  }
  auto r = ensureLink(spec({ip("169.254.20.10")}));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->created);
  EXPECT_EQ(r->kind, LinkKind::kBridge);
  EXPECT_NE(r->fallback_reason.find("dummy"), std::string::npos) << r->fallback_reason;
  EXPECT_NE(r->fallback_reason.find("not supported"), std::string::npos) << r->fallback_reason;
  EXPECT_TRUE(r->brought_up);
  std::string link = linkJson();
  EXPECT_NE(link.find("\"info_kind\":\"bridge\""), std::string::npos) << link;
  EXPECT_NE(link.find("\"UP\""), std::string::npos) << link;
  EXPECT_EQ(count(addrJson(), v4Entry("169.254.20.10")), 1u) << addrJson();
}

TEST(LinkNetns, ExplicitDummyWithoutDummyIsAClearError) {
  NLD_ENTER_NETNS();
  if (dummyUnsupported().empty()) {
    GTEST_SKIP() << "kernel supports dummy links";
  }
  auto r = ensureLink(spec({ip("169.254.20.10")}, LinkKind::kDummy));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::kUnsupported);
  EXPECT_NE(r.error().message().find("create link 'nodelocaldns' kind 'dummy'"), std::string::npos)
      << r.error().message();
  EXPECT_NE(run("ip link show nodelocaldns").exit_code, 0) << "nothing may be left behind";
}

TEST(LinkNetns, DummyPathWhereSupported) {
  NLD_ENTER_NETNS();
  if (auto why = dummyUnsupported(); !why.empty()) {
    GTEST_SKIP() << why;
  }
  auto r = ensureLink(spec({ip("169.254.20.10")}));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->kind, LinkKind::kDummy);
  EXPECT_TRUE(r->fallback_reason.empty());
  EXPECT_NE(linkJson().find("\"info_kind\":\"dummy\""), std::string::npos);
  EXPECT_EQ(count(addrJson(), v4Entry("169.254.20.10")), 1u);
}

TEST(LinkNetns, ExplicitBridge) {
  NLD_ENTER_NETNS();
  auto r = ensureLink(spec({ip("169.254.20.10")}, LinkKind::kBridge));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->kind, LinkKind::kBridge);
  EXPECT_TRUE(r->fallback_reason.empty());
  auto st = observeLink("nodelocaldns");
  ASSERT_TRUE(st && st->has_value());
  EXPECT_EQ((*st)->kind, "bridge");
  EXPECT_TRUE((*st)->up);
  EXPECT_GT((*st)->ifindex, 0);
}

TEST(LinkNetns, DualStackInOneCall) {
  NLD_ENTER_NETNS();
  auto r = ensureLink(spec({ip("169.254.20.10"), ip("fd00::10"), ip("10.96.0.10")}));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->added.size(), 3u);
  std::string addrs = addrJson();
  EXPECT_EQ(count(addrs, v4Entry("169.254.20.10")), 1u) << addrs;
  EXPECT_EQ(count(addrs, v4Entry("10.96.0.10")), 1u) << addrs;
  // NODAD: usable at once, never "tentative".
  EXPECT_EQ(count(addrs, v6Entry("fd00::10") + ",\"nodad\":true"), 1u) << addrs;
  auto st = observeLink("nodelocaldns");
  ASSERT_TRUE(st && st->has_value());
  EXPECT_NE(
      std::find((*st)->addresses.begin(), (*st)->addresses.end(), IpPrefix{ip("fd00::10"), 128}),
      (*st)->addresses.end());
}

TEST(LinkNetns, EnsureTwiceChangesNothing) {
  NLD_ENTER_NETNS();
  auto s = spec({ip("169.254.20.10"), ip("fd00::10")});
  auto first = ensureLink(s);
  ASSERT_TRUE(first) << first.error().message();
  std::string before = addrJson();
  auto second = ensureLink(s);
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_TRUE(second->unchanged());
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->kind, first->kind);
  std::string after = addrJson();
  EXPECT_EQ(count(after, v4Entry("169.254.20.10")), 1u) << after;
  EXPECT_EQ(count(after, v6Entry("fd00::10")), 1u) << after;
  EXPECT_EQ(count(after, "\"local\""), count(before, "\"local\""));
  auto st = observeLink("nodelocaldns");
  ASSERT_TRUE(st && st->has_value());
  EXPECT_EQ(planLinkText(s, *st).size(), 1u);
  EXPECT_NE(planLinkText(s, *st)[0].find("up to date"), std::string::npos);
}

TEST(LinkNetns, ReaddsDeletedAddress) {
  NLD_ENTER_NETNS();
  auto s = spec({ip("169.254.20.10"), ip("fd00::10")});
  ASSERT_TRUE(ensureLink(s));
  auto del = run("ip addr del 169.254.20.10/32 dev nodelocaldns");
  ASSERT_EQ(del.exit_code, 0) << del.out;
  ASSERT_EQ(count(addrJson(), v4Entry("169.254.20.10")), 0u);
  auto r = ensureLink(s);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(r->created);
  EXPECT_EQ(r->added, (std::vector<IpPrefix>{{ip("169.254.20.10"), 32}}));
  EXPECT_EQ(count(addrJson(), v4Entry("169.254.20.10")), 1u);
}

TEST(LinkNetns, BringsUpALinkSomeoneSetDown) {
  NLD_ENTER_NETNS();
  auto s = spec({ip("169.254.20.10")});
  ASSERT_TRUE(ensureLink(s));
  ASSERT_EQ(run("ip link set nodelocaldns down").exit_code, 0);
  auto r = ensureLink(s);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->brought_up);
  EXPECT_NE(linkJson().find("\"UP\""), std::string::npos);
}

TEST(LinkNetns, ForeignAddressSurvives) {
  NLD_ENTER_NETNS();
  auto s = spec({ip("169.254.20.10")});
  ASSERT_TRUE(ensureLink(s));
  auto add = run("ip addr add 10.9.9.9/24 dev nodelocaldns");
  ASSERT_EQ(add.exit_code, 0) << add.out;
  auto r = ensureLink(s);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->unchanged());
  std::string addrs = addrJson();
  EXPECT_NE(addrs.find("\"local\":\"10.9.9.9\",\"prefixlen\":24"), std::string::npos) << addrs;
}

TEST(LinkNetns, AdoptsExistingBridgeMadeByOthers) {
  NLD_ENTER_NETNS();
  ASSERT_EQ(run("ip link add nodelocaldns type bridge").exit_code, 0);
  auto r = ensureLink(spec({ip("169.254.20.10")}));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(r->created);
  EXPECT_EQ(r->kind, LinkKind::kBridge);
  EXPECT_TRUE(r->brought_up);
  EXPECT_EQ(r->added.size(), 1u);
}

TEST(LinkNetns, RevertOnAnAdoptedLinkTakesBackOnlyWhatEnsureAdded) {
  NLD_ENTER_NETNS();
  ASSERT_EQ(run("ip link add nodelocaldns type bridge && "
                "ip addr add 10.9.9.9/24 dev nodelocaldns && "
                "ip addr add 169.254.20.10/32 dev nodelocaldns")
                .exit_code,
            0);
  auto r = ensureLink(spec({ip("169.254.20.10"), ip("169.254.20.11"), ip("fd00::10")}));
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->added.size(), 2u);
  ASSERT_TRUE(r->brought_up);
  auto undo = revertLink("nodelocaldns", *r);
  ASSERT_TRUE(undo) << undo.error().message();
  std::string addrs = addrJson();
  EXPECT_NE(addrs.find("\"local\":\"10.9.9.9\",\"prefixlen\":24"), std::string::npos) << addrs;
  EXPECT_NE(addrs.find(v4Entry("169.254.20.10")), std::string::npos) << addrs;
  EXPECT_EQ(addrs.find("169.254.20.11"), std::string::npos) << addrs;
  EXPECT_EQ(addrs.find("fd00::10"), std::string::npos) << addrs;
  EXPECT_EQ(linkJson().find("\"UP\""), std::string::npos);
  // Twice = once: addresses already gone are fine.
  auto again = revertLink("nodelocaldns", *r);
  EXPECT_TRUE(again) << again.error().message();
}

TEST(LinkNetns, RevertOfACreatedLinkDeletesIt) {
  NLD_ENTER_NETNS();
  auto r = ensureLink(spec({ip("169.254.20.10")}));
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_TRUE(r->created);
  ASSERT_TRUE(revertLink("nodelocaldns", *r));
  auto st = observeLink("nodelocaldns");
  ASSERT_TRUE(st);
  EXPECT_FALSE(st->has_value());
}

TEST(LinkNetns, WrongKindLinkIsAnErrorAndUntouched) {
  NLD_ENTER_NETNS();
  auto mk = run("ip link add nodelocaldns type veth peer name nld-peer");
  ASSERT_EQ(mk.exit_code, 0) << mk.out;
  auto r = ensureLink(spec({ip("169.254.20.10")}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::kAlreadyExists);
  EXPECT_EQ(r.error().message(),
            "link 'nodelocaldns' exists with kind 'veth', expected dummy or bridge; not touching "
            "it");
  std::string addrs = addrJson();
  EXPECT_EQ(addrs.find("169.254.20.10"), std::string::npos) << addrs;
  EXPECT_NE(linkJson().find("\"info_kind\":\"veth\""), std::string::npos);
}

TEST(LinkNetns, RemoveThenRemoveAbsent) {
  NLD_ENTER_NETNS();
  ASSERT_TRUE(ensureLink(spec({ip("169.254.20.10")})));
  auto first = removeLink("nodelocaldns");
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_TRUE(*first);
  EXPECT_NE(run("ip link show nodelocaldns").exit_code, 0);
  EXPECT_EQ(run("ip -j addr").out.find("169.254.20.10"), std::string::npos);
  auto second = removeLink("nodelocaldns");
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_FALSE(*second);
}

TEST(LinkNetns, ManyEnsuresKeepOneCopyOfEachAddress) {
  NLD_ENTER_NETNS();
  auto s = spec({ip("169.254.20.10"), ip("fd00::10")});
  for (int i = 0; i < 200; ++i) {
    auto r = ensureLink(s);
    ASSERT_TRUE(r) << i << ": " << r.error().message();
    ASSERT_EQ(r->unchanged(), i > 0) << i;
  }
  std::string addrs = addrJson();
  EXPECT_EQ(count(addrs, "\"local\":\"169.254.20.10\""), 1u) << addrs;
  EXPECT_EQ(count(addrs, "\"local\":\"fd00::10\""), 1u) << addrs;
}

// A foreign copy of our IPv6 address still in duplicate address detection never gets its local
// route within the bound: ensureLink says so instead of returning a link that drops queries.
TEST(LinkNetns, Ipv6AddressStuckInDadIsATimeout) {
  NLD_ENTER_NETNS();
  ASSERT_TRUE(ensureLink(spec({ip("169.254.20.10")})));
  {
    std::ofstream f("/proc/sys/net/ipv6/conf/nodelocaldns/dad_transmits");
    f << "100\n";  // 100 probes, 1 s apart
    ASSERT_TRUE(f.good());
  }
  auto add = run("ip addr add fd00::10/128 dev nodelocaldns");  // with DAD: tentative
  ASSERT_EQ(add.exit_code, 0) << add.out;
  auto start = std::chrono::steady_clock::now();
  auto r = ensureLink(spec({ip("169.254.20.10"), ip("fd00::10")}));
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::kTimeout);
  EXPECT_EQ(r.error().message().rfind(
                "address 'fd00::10' on 'nodelocaldns' not usable after 3000 ms (no local route", 0),
            0u)
      << r.error().message();
  EXPECT_GE(took, std::chrono::milliseconds(3000));
  EXPECT_LT(took, std::chrono::milliseconds(4000));
  EXPECT_EQ(run("ip link show nodelocaldns").exit_code, 0) << "an adopted link is never removed";
}

TEST(LinkNetns, RemoveLeavesAForeignKindAlone) {
  NLD_ENTER_NETNS();
  auto mk = run("ip link add nodelocaldns type veth peer name nld-peer");
  ASSERT_EQ(mk.exit_code, 0) << mk.out;
  auto r = removeLink("nodelocaldns");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::kAlreadyExists);
  EXPECT_EQ(r.error().message(),
            "remove link 'nodelocaldns': it has kind 'veth', not dummy or bridge, so it is not "
            "ours; not removing it");
  EXPECT_EQ(run("ip link show nodelocaldns").exit_code, 0);
}

TEST(LinkNetns, FailedAddressStepRollsBackTheLinkItCreated) {
  NLD_ENTER_NETNS();
  // IPv6 disabled for new links in this namespace: adding fd00::10 must fail after creation.
  {
    std::ofstream f("/proc/sys/net/ipv6/conf/default/disable_ipv6");
    f << "1\n";
    ASSERT_TRUE(f.good()) << "cannot write this namespace's ipv6 sysctl";
  }
  auto r = ensureLink(spec({ip("169.254.20.10"), ip("fd00::10")}));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("add address 'fd00::10/128' to 'nodelocaldns': "),
            std::string::npos)
      << r.error().message();
  EXPECT_NE(run("ip link show nodelocaldns").exit_code, 0) << "half-made link left behind";
}

// The point of the bridge fallback: an UP empty bridge holding a /32 (and a /128) lets a UDP
// server bind the address and answer a client in the same namespace.
TEST(LinkNetns, UdpServerAnswersOnLocalAddress) {
  NLD_ENTER_NETNS();
  ASSERT_TRUE(ensureLink(spec({ip("169.254.20.10"), ip("fd00::10")})));
  for (const char* addr : {"169.254.20.10", "fd00::10"}) {
    SCOPED_TRACE(addr);
    auto server_addr = SocketAddress::parse(addr, 0);
    ASSERT_TRUE(server_addr);
    sockaddr_storage ss{};
    socklen_t len = server_addr->toSockaddr(ss);
    Fd server(::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(server);
    ASSERT_EQ(::bind(server.get(), reinterpret_cast<sockaddr*>(&ss), len), 0) << strerror(errno);
    len = sizeof(ss);
    ASSERT_EQ(::getsockname(server.get(), reinterpret_cast<sockaddr*>(&ss), &len), 0);

    Fd client(::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(client);
    ASSERT_EQ(::sendto(client.get(), "ping", 4, 0, reinterpret_cast<sockaddr*>(&ss), len), 4)
        << strerror(errno);

    pollfd p{server.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 2000), 1) << "server got nothing; routes:\n"
                                      << run("ip route show table all").out;
    char buf[16];
    sockaddr_storage from{};
    socklen_t from_len = sizeof(from);
    ASSERT_EQ(::recvfrom(server.get(), buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from),
                         &from_len),
              4);
    ASSERT_EQ(::sendto(server.get(), "pong", 4, 0, reinterpret_cast<sockaddr*>(&from), from_len),
              4);
    p = {client.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 2000), 1) << "client got no answer";
    sockaddr_storage reply_from{};
    socklen_t reply_len = sizeof(reply_from);
    ASSERT_EQ(::recvfrom(client.get(), buf, sizeof(buf), 0,
                         reinterpret_cast<sockaddr*>(&reply_from), &reply_len),
              4);
    EXPECT_EQ(std::string(buf, 4), "pong");
    EXPECT_EQ(SocketAddress::fromSockaddr(reply_from).ip, ip(addr)) << "answer from our address";
  }
}

TEST(LinkWatcherNetns, SeesAddressDeletion) {
  NLD_ENTER_NETNS();
  ASSERT_TRUE(ensureLink(spec({ip("169.254.20.10")})));
  auto w = LinkWatcher::create();
  ASSERT_TRUE(w) << w.error().message();
  (*w)->drain();  // nothing before the deletion matters
  ASSERT_EQ(run("ip addr del 169.254.20.10/32 dev nodelocaldns").exit_code, 0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  bool seen = false;
  while (!seen && std::chrono::steady_clock::now() < deadline) {
    pollfd p{(*w)->fd(), POLLIN, 0};
    if (::poll(&p, 1, 100) == 1) {
      seen = (*w)->drain();
    }
  }
  EXPECT_TRUE(seen);
  // Quiet afterwards: drain() reports nothing new.
  EXPECT_FALSE((*w)->drain());
}

TEST(LinkWatcherNetns, SeesLinkRemoval) {
  NLD_ENTER_NETNS();
  ASSERT_TRUE(ensureLink(spec({ip("169.254.20.10")})));
  auto w = LinkWatcher::create();
  ASSERT_TRUE(w) << w.error().message();
  ASSERT_TRUE(removeLink("nodelocaldns"));
  pollfd p{(*w)->fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
  EXPECT_TRUE((*w)->drain());
}

}  // namespace
}  // namespace nld::netcfg
