// UpstreamTransport: how the forwarder gets its sockets to an upstream — the seam a test
// replaces with a scripted fake (issue 12). The real one (systemTransport()) makes a connected
// UDP socket per attempt and a non-blocking TCP connect; a fake may hand out one end of a
// socketpair and script the other (answers, delays, drops, resets, TC, wrong IDs) while the
// forwarder's event-loop code, framing and bounds stay the real ones.
//
// Threading: called on the worker's loop thread; an implementation shared by several workers
// must be thread-safe.
#pragma once

#include <optional>

#include "base/fd.h"
#include "base/ip.h"

namespace nld::resolver::forward {

class UpstreamTransport {
 public:
  /// A non-blocking datagram socket whose peer is `upstream` (send() reaches it, only its
  /// datagrams are received). std::nullopt with errno set on failure.
  virtual std::optional<Fd> connectUdp(const SocketAddress& upstream) noexcept = 0;
  /// A non-blocking stream socket connecting to `upstream`: writable once connected, SO_ERROR
  /// set if the connect failed. std::nullopt with errno set on failure.
  virtual std::optional<Fd> connectTcp(const SocketAddress& upstream) noexcept = 0;

 protected:
  ~UpstreamTransport() = default;
};

/// Real sockets (net::connectUdp / net::connectTcp). One instance for the process.
UpstreamTransport& systemTransport() noexcept;

}  // namespace nld::resolver::forward
