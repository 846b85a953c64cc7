#include "resolver/forward/transport.h"

#include "resolver/net/socket.h"

namespace nld::resolver::forward {
namespace {

class SystemTransport final : public UpstreamTransport {
 public:
  std::optional<Fd> connectUdp(const SocketAddress& upstream) noexcept override {
    return net::connectUdp(upstream);
  }
  std::optional<Fd> connectTcp(const SocketAddress& upstream) noexcept override {
    return net::connectTcp(upstream);
  }
};

}  // namespace

UpstreamTransport& systemTransport() noexcept {
  static SystemTransport transport;
  return transport;
}

}  // namespace nld::resolver::forward
