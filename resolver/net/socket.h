// Socket helpers for listeners and upstream connections. Control-plane functions return Result
// with the address in the message ("bind udp 169.254.20.10:53: Cannot assign requested address");
// every socket is non-blocking and close-on-exec.
#pragma once

#include <cstdint>
#include <optional>

#include "base/fd.h"
#include "base/ip.h"
#include "base/result.h"

namespace nld::resolver::net {

enum class Proto : uint8_t { kUdp, kTcp };

/// A UDP socket bound to `address` (SO_REUSEPORT when `reuse_port`), non-blocking. Wildcard
/// addresses get IP_PKTINFO / IPV6_RECVPKTINFO (see replyControl()).
Result<Fd> bindUdp(const SocketAddress& address, bool reuse_port);
/// A listening TCP socket bound to `address` (SO_REUSEPORT when `reuse_port`), non-blocking.
Result<Fd> listenTcp(const SocketAddress& address, bool reuse_port, int backlog = 1024);

/// An unbound UDP socket connected to `upstream`: the kernel picks a random ephemeral source port
/// and drops datagrams from any other source. std::nullopt (errno set) on failure.
std::optional<Fd> connectUdp(const SocketAddress& upstream) noexcept;
/// A non-blocking TCP socket whose connect() to `upstream` is in progress (or done).
std::optional<Fd> connectTcp(const SocketAddress& upstream) noexcept;

/// From a received datagram's control data (IP_PKTINFO / IPV6_PKTINFO), the control data that
/// makes the reply leave from the address the query was sent to. Writes at most 64 bytes to
/// `out`; returns its length (0 if the datagram carried no packet info).
size_t replyControl(const void* control, size_t control_len, uint8_t* out) noexcept;
inline constexpr size_t kControlSize = 64;

/// The local address of a bound socket.
std::optional<SocketAddress> localAddress(int fd) noexcept;

}  // namespace nld::resolver::net
