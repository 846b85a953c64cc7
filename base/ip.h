// IP addresses, prefixes and socket addresses: parse from user text, format for humans, netlink,
// iptables and sockaddr. Value types, no allocation except in toString().
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace nld {

enum class Family : uint8_t { kV4, kV6 };

inline int toAf(Family f) noexcept { return f == Family::kV4 ? AF_INET : AF_INET6; }
inline std::string_view familyName(Family f) noexcept { return f == Family::kV4 ? "IPv4" : "IPv6"; }

class IpAddress {
 public:
  IpAddress() noexcept = default;  // 0.0.0.0
  static IpAddress v4(const in_addr& a) noexcept;
  static IpAddress v6(const in6_addr& a) noexcept;
  /// Parses "169.254.20.10" or "fd00::10" (no brackets, no zone id, no prefix).
  static std::optional<IpAddress> parse(std::string_view text) noexcept;
  /// Like parse(), but an error that quotes the input: "invalid IP address 'x'".
  static Result<IpAddress> parseOrError(std::string_view text);

  Family family() const noexcept { return family_; }
  bool isV4() const noexcept { return family_ == Family::kV4; }
  bool isV6() const noexcept { return family_ == Family::kV6; }
  bool isLoopback() const noexcept;
  bool isUnspecified() const noexcept;
  /// 4 or 16 bytes in network order.
  const uint8_t* bytes() const noexcept { return bytes_.data(); }
  size_t size() const noexcept { return isV4() ? 4 : 16; }
  in_addr toIn4() const noexcept;
  in6_addr toIn6() const noexcept;
  unsigned maxPrefix() const noexcept { return isV4() ? 32 : 128; }

  /// Canonical text ("fd00::10", "169.254.20.10").
  std::string toString() const;
  /// Text usable before ":port": IPv6 wrapped in brackets.
  std::string toUrlHost() const;

  auto operator<=>(const IpAddress&) const = default;

 private:
  Family family_ = Family::kV4;
  std::array<uint8_t, 16> bytes_{};
};

/// An address with a prefix length, e.g. 169.254.20.10/32.
struct IpPrefix {
  IpAddress address;
  uint8_t length = 32;

  static IpPrefix host(const IpAddress& a) noexcept {
    return {a, static_cast<uint8_t>(a.maxPrefix())};
  }
  std::string toString() const;
  auto operator<=>(const IpPrefix&) const = default;
};

/// An IP and a port, convertible to sockaddr_storage.
struct SocketAddress {
  IpAddress ip;
  uint16_t port = 0;

  /// Parses "1.2.3.4", "1.2.3.4:53", "[fd00::1]:53", "fd00::1" (port defaults to default_port).
  static Result<SocketAddress> parse(std::string_view text, uint16_t default_port);
  static SocketAddress fromSockaddr(const sockaddr_storage& ss) noexcept;
  socklen_t toSockaddr(sockaddr_storage& out) const noexcept;
  /// "1.2.3.4:53" / "[fd00::1]:53".
  std::string toString() const;
  auto operator<=>(const SocketAddress&) const = default;
};

/// Parses a decimal port 1..65535.
std::optional<uint16_t> parsePort(std::string_view text) noexcept;

}  // namespace nld
