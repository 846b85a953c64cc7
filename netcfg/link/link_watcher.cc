// LinkWatcher: a plain NETLINK_ROUTE socket subscribed to link and address multicast groups.
// A raw socket (not libnl) because all we need is "did anything happen": the daemon then re-runs
// ensureLink(), which reads the full state anyway.
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>

#include "netcfg/link/link.h"
#include "netcfg/netlink/request.h"

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

namespace {

bool isLinkOrAddressEvent(uint16_t type) {
  return type == RTM_NEWLINK || type == RTM_DELLINK || type == RTM_NEWADDR || type == RTM_DELADDR;
}

}  // namespace

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
    netlink::forEachMessage({reinterpret_cast<const uint8_t*>(buf.data()), static_cast<size_t>(n)},
                            [&](const nlmsghdr& h) {
                              any = any || isLinkOrAddressEvent(h.nlmsg_type);
                              return netlink::Next::kRead;
                            });
  }
  return any;
}

}  // namespace nld::netcfg
