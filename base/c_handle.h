// One owner type per C handle: `CHandle<nl_sock, nl_socket_free>` is a unique_ptr whose deleter is
// a stateless struct (no function pointer stored, works with any free function's signature).
#pragma once

#include <memory>

namespace nld {

template <auto Free>
struct FreeFn {
  template <typename T>
  void operator()(T* p) const noexcept {
    if (p != nullptr) {
      Free(p);
    }
  }
};

template <typename T, auto Free>
using CHandle = std::unique_ptr<T, FreeFn<Free>>;

}  // namespace nld
