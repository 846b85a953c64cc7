// Upstreams of one `forward` directive: shared health state and the selection policy.
//
// UpstreamState is shared by every worker (atomics only, relaxed: health is advisory). The
// selection itself (selectOrder) is a pure function so that policies are unit-tested without
// sockets. Health follows CoreDNS: an upstream is down when its consecutive failures exceed
// max_fails (0 = never down); health probes (`. IN NS`) run only while it is down; any answer
// marks it up again.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/ip.h"
#include "resolver/config/config.h"
#include "resolver/metrics/metrics.h"

namespace nld::resolver::forward {

struct UpstreamState {
  explicit UpstreamState(const SocketAddress& a) : address(a), label(a.toString()) {}
  SocketAddress address;
  std::string label;  ///< "10.96.0.10:53", the `to` metrics label
  std::atomic<uint32_t> fails{0};
  std::atomic<int64_t> last_answer_ns{0};   ///< steady clock, 0 = never
  metrics::UpstreamStats* stats = nullptr;  ///< per-worker array, set before workers see it

  bool down(unsigned max_fails) const noexcept {
    return max_fails > 0 && fails.load(std::memory_order_relaxed) > max_fails;
  }
  void onAnswer(int64_t now_ns) noexcept {
    fails.store(0, std::memory_order_relaxed);
    last_answer_ns.store(now_ns, std::memory_order_relaxed);
  }
  void onFailure() noexcept { fails.fetch_add(1, std::memory_order_relaxed); }
};

/// One forward group: its options and its upstreams (state shared across reloads by address).
struct ForwardGroup {
  config::ForwardConfig config;
  std::vector<std::shared_ptr<UpstreamState>> upstreams;
  std::atomic<uint32_t> round_robin{0};
  std::atomic<uint32_t> in_flight{0};  ///< for max_concurrent, all workers together

  bool anyUp() const noexcept;
};

/// Order in which to try upstreams for one query, written into `out` (size ≥ down.size()):
/// up ones first in policy order (random: a rotation starting at `seed % n`... shuffled by seed;
/// round_robin: a rotation starting at `counter`; sequential: config order), then down ones in
/// the same order (CoreDNS: when all are down, one is still tried).
/// @return the number of entries written (== down.size()).
size_t selectOrder(config::Policy policy, std::span<const bool> down, uint64_t seed,
                   uint32_t counter, std::span<uint8_t> out) noexcept;

}  // namespace nld::resolver::forward
