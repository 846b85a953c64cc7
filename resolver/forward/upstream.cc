#include "resolver/forward/upstream.h"

#include <algorithm>

namespace nld::resolver::forward {

bool ForwardGroup::anyUp() const noexcept {
  for (const auto& u : upstreams) {
    if (!u->down(config.max_fails)) {
      return true;
    }
  }
  return false;
}

size_t selectOrder(config::Policy policy, std::span<const bool> down, uint64_t seed,
                   uint32_t counter, std::span<uint8_t> out) noexcept {
  size_t n = std::min<size_t>(down.size(), out.size());
  uint8_t base[16];
  n = std::min<size_t>(n, sizeof base);
  for (size_t i = 0; i < n; ++i) {
    base[i] = static_cast<uint8_t>(i);
  }
  switch (policy) {
    case config::Policy::kSequential:
      break;
    case config::Policy::kRoundRobin:
      if (n > 0) {
        std::rotate(base, base + counter % n, base + n);
      }
      break;
    case config::Policy::kRandom:
      // Fisher-Yates driven by a 64-bit seed (splitmix steps), no allocation.
      for (size_t i = n; i > 1; --i) {
        seed += 0x9e3779b97f4a7c15ULL;
        uint64_t z = seed;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        std::swap(base[i - 1], base[z % i]);
      }
      break;
  }
  size_t w = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!down[base[i]]) {
      out[w++] = base[i];
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (down[base[i]]) {
      out[w++] = base[i];
    }
  }
  return w;
}

}  // namespace nld::resolver::forward
