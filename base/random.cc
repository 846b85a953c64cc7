#include "base/random.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace nld {

void fillRandom(std::span<uint8_t> out) noexcept {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::getrandom(out.data() + done, out.size() - done, 0);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      std::abort();  // ENOSYS (kernel < 3.17) or EFAULT: nothing unpredictable to fall back on
    }
    done += static_cast<size_t>(n);
  }
}

uint64_t random64() noexcept {
  uint64_t v = 0;
  fillRandom(std::span<uint8_t>(reinterpret_cast<uint8_t*>(&v), sizeof v));
  return v;
}

uint64_t RandomPool::take(size_t bytes) noexcept {
  if (kBlock - used_ < bytes) {
    fillRandom(block_);
    ++refills_;
    used_ = 0;
  }
  uint64_t v = 0;
  std::memcpy(&v, block_ + used_, bytes);
  // Used bytes are wiped so that a later memory disclosure does not reveal issued IDs.
  std::memset(block_ + used_, 0, bytes);
  used_ += bytes;
  return v;
}

}  // namespace nld
