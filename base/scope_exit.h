// Runs a callable when the scope ends unless dismissed: for rollback of multi-step changes
// ("created the link, then adding rules failed → delete the link") and test cleanup.
#pragma once

#include <utility>

namespace nld {

template <typename F>
class [[nodiscard]] ScopeExit {
 public:
  explicit ScopeExit(F f) : f_(std::move(f)) {}
  ScopeExit(const ScopeExit&) = delete;
  ScopeExit& operator=(const ScopeExit&) = delete;
  ~ScopeExit() {
    if (armed_) {
      f_();
    }
  }
  void dismiss() noexcept { armed_ = false; }

 private:
  F f_;
  bool armed_ = true;
};

}  // namespace nld
