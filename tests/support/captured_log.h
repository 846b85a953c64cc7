// CapturedLog: the messages of the `server` logger, for tests that check what the resolver logs
// (the `errors` and `log` plugins). Header-only: spdlog comes with nld::base.
#pragma once

#include <spdlog/sinks/base_sink.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "base/log.h"

namespace nld::test {

/// Records every message of the `server` logger while it lives (attach before the server starts,
/// destroy after it stopped: spdlog's sink list is not meant to change under running threads).
class CapturedLog {
 public:
  CapturedLog() : sink_(std::make_shared<Sink>()) {
    log::get(log::Subsystem::kServer).sinks().push_back(sink_);
  }
  ~CapturedLog() {
    auto& sinks = log::get(log::Subsystem::kServer).sinks();
    std::erase(sinks, sink_);
  }
  std::vector<std::string> lines() const { return sink_->lines(); }
  std::vector<std::string> matching(const std::string& pattern) const {
    std::regex re(pattern);
    std::vector<std::string> out;
    for (const auto& l : lines()) {
      if (std::regex_search(l, re)) {
        out.push_back(l);
      }
    }
    return out;
  }
  /// Polls until `n` lines match or 5 s passed.
  std::vector<std::string> waitFor(const std::string& pattern, size_t n) const {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
      auto got = matching(pattern);
      if (got.size() >= n || std::chrono::steady_clock::now() > deadline) {
        return got;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

 private:
  class Sink : public spdlog::sinks::base_sink<std::mutex> {
   public:
    std::vector<std::string> lines() {
      std::lock_guard lock(mutex_);
      return lines_;
    }

   protected:
    void sink_it_(const spdlog::details::log_msg& m) override {
      lines_.emplace_back(m.payload.data(), m.payload.size());
    }
    void flush_() override {}

   private:
    std::vector<std::string> lines_;
  };
  std::shared_ptr<Sink> sink_;
};

}  // namespace nld::test
