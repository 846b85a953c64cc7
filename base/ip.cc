#include "base/ip.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace nld {

IpAddress IpAddress::v4(const in_addr& a) noexcept {
  IpAddress ip;
  ip.family_ = Family::kV4;
  std::memcpy(ip.bytes_.data(), &a, 4);
  return ip;
}

IpAddress IpAddress::v6(const in6_addr& a) noexcept {
  IpAddress ip;
  ip.family_ = Family::kV6;
  std::memcpy(ip.bytes_.data(), &a, 16);
  return ip;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) noexcept {
  // inet_pton needs a NUL-terminated string; the longest valid text is 45 characters.
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof(buf)) {
    return std::nullopt;
  }
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  in_addr a4;
  if (inet_pton(AF_INET, buf, &a4) == 1) {
    return v4(a4);
  }
  in6_addr a6;
  if (inet_pton(AF_INET6, buf, &a6) == 1) {
    return v6(a6);
  }
  return std::nullopt;
}

Result<IpAddress> IpAddress::parseOrError(std::string_view text) {
  if (auto ip = parse(text)) {
    return *ip;
  }
  return fail(Errc::kInvalidArgument, "invalid IP address '" + std::string(text) + "'");
}

bool IpAddress::isLoopback() const noexcept {
  if (isV4()) {
    return bytes_[0] == 127;
  }
  static constexpr std::array<uint8_t, 16> kLoop{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return bytes_ == kLoop;
}

bool IpAddress::isUnspecified() const noexcept {
  for (size_t i = 0; i < size(); ++i) {
    if (bytes_[i] != 0) {
      return false;
    }
  }
  return true;
}

in_addr IpAddress::toIn4() const noexcept {
  in_addr a{};
  std::memcpy(&a, bytes_.data(), 4);
  return a;
}

in6_addr IpAddress::toIn6() const noexcept {
  in6_addr a{};
  std::memcpy(&a, bytes_.data(), 16);
  return a;
}

std::string IpAddress::toString() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(toAf(family_), bytes_.data(), buf, sizeof(buf));
  return buf;
}

std::string IpAddress::toUrlHost() const { return isV4() ? toString() : "[" + toString() + "]"; }

std::string IpPrefix::toString() const { return address.toString() + "/" + std::to_string(length); }

std::optional<uint16_t> parsePort(std::string_view text) noexcept {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<uint16_t>(value);
}

Result<SocketAddress> SocketAddress::parse(std::string_view text, uint16_t default_port) {
  auto bad = [&] {
    return fail(Errc::kInvalidArgument, "invalid address '" + std::string(text) + "'");
  };
  std::string_view host = text;
  std::optional<uint16_t> port = default_port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) {
      return bad();
    }
    host = text.substr(1, close - 1);
    auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return bad();
      }
      port = parsePort(rest.substr(1));
    }
  } else if (auto colon = text.find(':'); colon != std::string_view::npos &&
                                          text.find(':', colon + 1) == std::string_view::npos) {
    host = text.substr(0, colon);  // exactly one colon: IPv4 with port
    port = parsePort(text.substr(colon + 1));
  }
  auto ip = IpAddress::parse(host);
  if (!ip || !port) {
    return bad();
  }
  return SocketAddress{*ip, *port};
}

SocketAddress SocketAddress::fromSockaddr(const sockaddr_storage& ss) noexcept {
  SocketAddress out;
  if (ss.ss_family == AF_INET) {
    sockaddr_in sin;
    std::memcpy(&sin, &ss, sizeof(sin));
    out.ip = IpAddress::v4(sin.sin_addr);
    out.port = ntohs(sin.sin_port);
  } else if (ss.ss_family == AF_INET6) {
    sockaddr_in6 sin6;
    std::memcpy(&sin6, &ss, sizeof(sin6));
    out.ip = IpAddress::v6(sin6.sin6_addr);
    out.port = ntohs(sin6.sin6_port);
  }
  return out;
}

socklen_t SocketAddress::toSockaddr(sockaddr_storage& out) const noexcept {
  std::memset(&out, 0, sizeof(out));
  if (ip.isV4()) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr = ip.toIn4();
    std::memcpy(&out, &sin, sizeof(sin));
    return sizeof(sin);
  }
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(port);
  sin6.sin6_addr = ip.toIn6();
  std::memcpy(&out, &sin6, sizeof(sin6));
  return sizeof(sin6);
}

std::string SocketAddress::toString() const { return ip.toUrlHost() + ":" + std::to_string(port); }

}  // namespace nld
