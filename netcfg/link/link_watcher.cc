// LinkWatcher: a plain NETLINK_ROUTE socket subscribed to link and address multicast groups.
// A raw socket (not libnl) because all we need is "did anything happen": the daemon then re-runs
// ensureLink(), which reads the full state anyway.
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>

#include "netcfg/link/link.h"

namespace nld::netcfg {

Result<std::unique_ptr<LinkWatcher>> LinkWatcher::create() {
  Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd) {
    return failSys(errno, "watch links: create netlink socket");
  }
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    return failSys(errno, "watch links: bind netlink socket to link and address groups");
  }
  return std::unique_ptr<LinkWatcher>(new LinkWatcher(std::move(fd)));
}

LinkWatcher::~LinkWatcher() = default;

bool LinkWatcher::drain() {
  bool any = false;
  alignas(nlmsghdr) std::array<char, 16384> buf;
  for (;;) {
    ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno == ENOBUFS) {
        any = true;  // the kernel dropped events: we cannot know what changed, so say "something"
        continue;
      }
      break;  // EAGAIN: drained (or a real error: the next poll tells)
    }
    if (n == 0) {
      break;
    }
    auto len = static_cast<unsigned>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, len);
         h = NLMSG_NEXT(h, len)) {
      switch (h->nlmsg_type) {
        case RTM_NEWLINK:
        case RTM_DELLINK:
        case RTM_NEWADDR:
        case RTM_DELADDR:
          any = true;
          break;
        default:
          break;
      }
    }
  }
  return any;
}

}  // namespace nld::netcfg
