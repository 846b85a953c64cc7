// What a CoreDNS-style answering plugin (hosts, template) tells the serving core about a query:
// pass it on to the next plugin of the chain, the answer it wrote, or SERVFAIL (CoreDNS: the
// plugin returns dns.RcodeServerFailure and the server writes the error; nothing is cached).
#pragma once

#include <cstddef>

namespace nld::resolver::plugins {

struct Outcome {
  enum class Kind : unsigned char { kNext, kAnswer, kServFail };
  Kind kind = Kind::kNext;
  size_t length = 0;  ///< kAnswer: bytes written to `out`

  static Outcome next() noexcept { return {}; }
  static Outcome answer(size_t len) noexcept { return {Kind::kAnswer, len}; }
  static Outcome servFail() noexcept { return {Kind::kServFail, 0}; }
};

}  // namespace nld::resolver::plugins
