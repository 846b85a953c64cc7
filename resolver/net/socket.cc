#include "resolver/net/socket.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace nld::resolver::net {
namespace {

Result<Fd> bindSocket(const SocketAddress& address, bool reuse_port, int type, const char* what) {
  std::string where = std::string("bind ") + what + " " + address.toString();
  Fd fd(::socket(toAf(address.ip.family()), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    return failSys(errno, where);
  }
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuse_port && ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    return failSys(errno, where + ": SO_REUSEPORT");
  }
  if (address.ip.isV6()) {
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  // Binding to an address that is not (yet) configured fails with EADDRNOTAVAIL: that is what
  // CoreDNS's bind does too, and the caller reports it. IP_FREEBIND is not set on purpose.
  sockaddr_storage ss{};
  socklen_t len = address.toSockaddr(ss);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return failSys(errno, where);
  }
  return fd;
}

}  // namespace

Result<Fd> bindUdp(const SocketAddress& address, bool reuse_port) {
  auto fd = bindSocket(address, reuse_port, SOCK_DGRAM, "udp");
  if (fd) {
    int size = 4 << 20;
    ::setsockopt(fd->get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (address.ip.isUnspecified()) {
      // A wildcard listener must answer from the address the query was sent to: learn it per
      // datagram (the worker echoes it back as the reply's source).
      int one = 1;
      if (address.ip.isV4()) {
        ::setsockopt(fd->get(), IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
      } else {
        ::setsockopt(fd->get(), IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
      }
    }
  }
  return fd;
}

Result<Fd> listenTcp(const SocketAddress& address, bool reuse_port, int backlog) {
  auto fd = bindSocket(address, reuse_port, SOCK_STREAM, "tcp");
  if (!fd) {
    return fd;
  }
  int one = 1;
  ::setsockopt(fd->get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::listen(fd->get(), backlog) != 0) {
    return failSys(errno, "listen tcp " + address.toString());
  }
  return fd;
}

std::optional<Fd> connectUdp(const SocketAddress& upstream) noexcept {
  Fd fd(::socket(toAf(upstream.ip.family()), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    return std::nullopt;
  }
  sockaddr_storage ss{};
  socklen_t len = upstream.toSockaddr(ss);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return std::nullopt;
  }
  return fd;
}

std::optional<Fd> connectTcp(const SocketAddress& upstream) noexcept {
  Fd fd(::socket(toAf(upstream.ip.family()), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    return std::nullopt;
  }
  int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_storage ss{};
  socklen_t len = upstream.toSockaddr(ss);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
    return std::nullopt;
  }
  return fd;
}

size_t replyControl(const void* control, size_t control_len, uint8_t* out) noexcept {
  msghdr in{};
  in.msg_control = const_cast<void*>(control);
  in.msg_controllen = control_len;
  for (cmsghdr* c = CMSG_FIRSTHDR(&in); c != nullptr; c = CMSG_NXTHDR(&in, c)) {
    msghdr o{};
    o.msg_control = out;
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo got;
      std::memcpy(&got, CMSG_DATA(c), sizeof got);
      in_pktinfo reply{};
      reply.ipi_spec_dst = got.ipi_addr;
      o.msg_controllen = CMSG_SPACE(sizeof reply);
      cmsghdr* w = CMSG_FIRSTHDR(&o);
      w->cmsg_level = IPPROTO_IP;
      w->cmsg_type = IP_PKTINFO;
      w->cmsg_len = CMSG_LEN(sizeof reply);
      std::memcpy(CMSG_DATA(w), &reply, sizeof reply);
      return CMSG_SPACE(sizeof reply);
    }
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo reply;
      std::memcpy(&reply, CMSG_DATA(c), sizeof reply);
      o.msg_controllen = CMSG_SPACE(sizeof reply);
      cmsghdr* w = CMSG_FIRSTHDR(&o);
      w->cmsg_level = IPPROTO_IPV6;
      w->cmsg_type = IPV6_PKTINFO;
      w->cmsg_len = CMSG_LEN(sizeof reply);
      std::memcpy(CMSG_DATA(w), &reply, sizeof reply);
      return CMSG_SPACE(sizeof reply);
    }
  }
  return 0;
}

std::optional<SocketAddress> localAddress(int fd) noexcept {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return std::nullopt;
  }
  return SocketAddress::fromSockaddr(ss);
}

}  // namespace nld::resolver::net
