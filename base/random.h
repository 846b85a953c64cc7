// Unpredictable numbers from the kernel's CSPRNG (getrandom(2)), for what an off-path attacker
// must not guess: DNS query IDs, probe IDs, hash seeds. Never a once-seeded PRNG: the output of
// std::mt19937 is fixed by its seed (and std::random_device gives 32 bits of it at a time).
//
// RandomPool buffers one block of getrandom() output and hands it out in small pieces, so the
// per-query cost is a copy of two bytes and one system call per kBlock bytes. One pool per
// thread (a worker owns its own); not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace nld {

/// Fills `out` from getrandom(2) (blocking only before the kernel's pool is initialised, at boot).
/// Aborts if the kernel refuses: there is no safe fallback for unpredictable IDs.
void fillRandom(std::span<uint8_t> out) noexcept;

/// A 64-bit value straight from getrandom(2) (one system call).
uint64_t random64() noexcept;

class RandomPool {
 public:
  static constexpr size_t kBlock = 512;

  RandomPool() noexcept = default;
  RandomPool(const RandomPool&) = delete;
  RandomPool& operator=(const RandomPool&) = delete;

  uint16_t next16() noexcept { return static_cast<uint16_t>(take(2)); }
  uint32_t next32() noexcept { return static_cast<uint32_t>(take(4)); }
  uint64_t next64() noexcept { return take(8); }

  /// getrandom() calls so far (refills of the block); for tests and benchmarks.
  uint64_t refills() const noexcept { return refills_; }

 private:
  uint64_t take(size_t bytes) noexcept;

  uint8_t block_[kBlock] = {};
  size_t used_ = kBlock;  // empty until first use
  uint64_t refills_ = 0;
};

}  // namespace nld
