// netlink::exchange() against the kernel, in a throw-away network namespace per TEST: a single
// reply, an ack, a kernel error with its errno, a whole dump, and a dump the caller stops.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "base/fd.h"
#include "netcfg/netlink/request.h"
#include "tests/support/netns.h"

namespace nld::netcfg::netlink {
namespace {

Fd routeSocket() {
  Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  timeval tv{2, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

Request routeGet(uint32_t seq, const char* v4, uint16_t flags = NLM_F_REQUEST) {
  rtmsg r{};
  r.rtm_family = AF_INET;
  r.rtm_dst_len = 32;
  Request req(RTM_GETROUTE, flags, seq, &r, sizeof(r));
  in_addr a{};
  EXPECT_EQ(::inet_pton(AF_INET, v4, &a), 1);
  req.putAttr(RTA_DST, &a, sizeof(a));
  return req;
}

TEST(NetlinkExchangeNetns, SingleReplyIsHandedToTheCallback) {
  NLD_ENTER_NETNS();
  Fd fd = routeSocket();
  ASSERT_TRUE(fd);
  int type = -1;
  auto r = exchange(
      fd.get(), routeGet(1, "127.0.0.1"),
      [&](const nlmsghdr& m) {
        rtmsg route{};
        std::memcpy(&route, NLMSG_DATA(&m), sizeof(route));
        type = m.nlmsg_type == RTM_NEWROUTE ? route.rtm_type : -1;
        return Next::kStop;
      },
      "route to 127.0.0.1");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(r->ended);  // the callback stopped first
  EXPECT_EQ(type, RTN_LOCAL);
}

TEST(NetlinkExchangeNetns, KernelErrorCarriesItsErrno) {
  NLD_ENTER_NETNS();
  ASSERT_EQ(test::run("ip link set lo down").exit_code, 0);
  Fd fd = routeSocket();
  ASSERT_TRUE(fd);
  // No route at all with lo down and no other link: the kernel answers ENETUNREACH.
  auto r = exchange(
      fd.get(), routeGet(2, "192.0.2.1"), [](const nlmsghdr&) { return Next::kRead; },
      "route to 192.0.2.1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().sysErrno(), ENETUNREACH);
  EXPECT_EQ(r.error().message().rfind("route to 192.0.2.1: ", 0), 0u) << r.error().message();
}

TEST(NetlinkExchangeNetns, AckEndsTheExchange) {
  NLD_ENTER_NETNS();
  Fd fd = routeSocket();
  ASSERT_TRUE(fd);
  // Setting lo up (already up) with NLM_F_ACK: no reply, only the ack.
  ifinfomsg i{};
  i.ifi_family = AF_UNSPEC;
  i.ifi_index = static_cast<int>(::if_nametoindex("lo"));
  i.ifi_flags = IFF_UP;
  i.ifi_change = IFF_UP;
  Request req(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, 3, &i, sizeof(i));
  int messages = 0;
  auto r = exchange(
      fd.get(), req,
      [&](const nlmsghdr&) {
        ++messages;
        return Next::kRead;
      },
      "set lo up");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->ended);
  EXPECT_EQ(messages, 0);
}

TEST(NetlinkExchangeNetns, DumpRunsToDoneOrStopsAfterABatch) {
  NLD_ENTER_NETNS();
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(test::run("ip link add d" + std::to_string(i) + " type bridge").exit_code, 0);
  }
  Fd fd = routeSocket();
  ASSERT_TRUE(fd);
  ifinfomsg i{};
  int links = 0;
  auto count = [&](const nlmsghdr& m) {
    links += m.nlmsg_type == RTM_NEWLINK ? 1 : 0;
    return Next::kRead;
  };
  int batches = 0;
  auto all = exchange(fd.get(), Request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 4, &i, sizeof(i)),
                      count, "dump links", [&] {
                        ++batches;
                        return Next::kRead;
                      });
  ASSERT_TRUE(all) << all.error().message();
  EXPECT_TRUE(all->ended);
  EXPECT_FALSE(all->interrupted);
  EXPECT_EQ(links, 21);  // lo and 20 bridges (no dummy kind on every kernel)
  EXPECT_GE(batches, 1);

  // Stopping at the first message: the rest is never read (closing the socket ends the dump).
  Fd fresh = routeSocket();
  ASSERT_TRUE(fresh);
  links = 0;
  auto first = exchange(
      fresh.get(), Request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 5, &i, sizeof(i)),
      [&](const nlmsghdr& m) {
        links += m.nlmsg_type == RTM_NEWLINK ? 1 : 0;
        return Next::kStop;
      },
      "dump links");
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_FALSE(first->ended);
  EXPECT_EQ(links, 1);
}

}  // namespace
}  // namespace nld::netcfg::netlink
