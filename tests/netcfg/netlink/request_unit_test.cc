// netlink::Request builds the bytes the kernel expects: header length, family header, padded
// attributes.
#include <gtest/gtest.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>

#include "netcfg/netlink/request.h"

namespace nld::netcfg::netlink {
namespace {

TEST(NetlinkRequest, HeaderFamilyHeaderAndPaddedAttributes) {
  rtmsg r{};
  r.rtm_family = AF_INET;
  Request req(RTM_GETROUTE, NLM_F_REQUEST, 7, &r, sizeof(r));
  EXPECT_EQ(req.bytes().size(), NLMSG_SPACE(sizeof(rtmsg)));
  req.putString(RTA_DST, "abc");        // 4 + 4 bytes ("abc\0"), no padding
  req.putAttr(RTA_OIF, "\x01\x02", 2);  // 4 + 2, padded to 8
  auto b = req.bytes();
  ASSERT_EQ(b.size(), NLMSG_SPACE(sizeof(rtmsg)) + 8 + 8);
  nlmsghdr h{};
  std::memcpy(&h, b.data(), sizeof(h));
  EXPECT_EQ(h.nlmsg_len, b.size());
  EXPECT_EQ(h.nlmsg_type, RTM_GETROUTE);
  EXPECT_EQ(h.nlmsg_flags, NLM_F_REQUEST);
  EXPECT_EQ(h.nlmsg_seq, 7u);
  EXPECT_EQ(req.seq(), 7u);
  nlattr a{};
  size_t at = NLMSG_SPACE(sizeof(rtmsg));
  std::memcpy(&a, b.data() + at, sizeof(a));
  EXPECT_EQ(a.nla_type, RTA_DST);
  EXPECT_EQ(a.nla_len, NLA_HDRLEN + 4);
  EXPECT_EQ(std::memcmp(b.data() + at + NLA_HDRLEN, "abc", 4), 0);
  std::memcpy(&a, b.data() + at + 8, sizeof(a));
  EXPECT_EQ(a.nla_type, RTA_OIF);
  EXPECT_EQ(a.nla_len, NLA_HDRLEN + 2);
  EXPECT_EQ(b[at + 8 + NLA_HDRLEN + 2], 0);  // padding is zero
}

}  // namespace
}  // namespace nld::netcfg::netlink
