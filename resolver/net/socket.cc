#include "resolver/net/socket.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
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

std::optional<SocketAddress> localAddress(int fd) noexcept {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return std::nullopt;
  }
  return SocketAddress::fromSockaddr(ss);
}

}  // namespace nld::resolver::net
