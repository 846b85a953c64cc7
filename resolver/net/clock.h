// Clock: where the event loop, the forwarder and the worker read monotonic time. Production
// code uses systemClock() (steady_clock); tests use a ManualClock and advance it, so that a 30 s
// TTL or a 2 s attempt timeout passes in a microsecond and timers fire from the clock, not from
// how long the machine took (issue 12).
//
// Only time is virtual: epoll still waits on real file descriptors. An EventLoop on a
// ManualClock computes its epoll timeout from the manual time, so a test drives it with
// runOnce(0ms) after advance() rather than letting it sleep until a tick is due.
//
// Threading: now() is safe from any thread on both clocks; advance()/set() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace nld::resolver::net {

using MonoClock = std::chrono::steady_clock;
using MonoTime = MonoClock::time_point;

class Clock {
 public:
  virtual MonoTime now() const noexcept = 0;

 protected:
  ~Clock() = default;
};

/// steady_clock. One instance for the process.
Clock& systemClock() noexcept;

class ManualClock final : public Clock {
 public:
  /// Starts an hour past the clock's epoch, so that `now() - period` stays a valid time point.
  explicit ManualClock(MonoTime start = MonoTime(std::chrono::hours(1))) noexcept
      : ns_(start.time_since_epoch().count()) {}
  MonoTime now() const noexcept override {
    return MonoTime(MonoClock::duration(ns_.load(std::memory_order_acquire)));
  }
  void advance(MonoClock::duration d) noexcept {
    ns_.fetch_add(d.count(), std::memory_order_acq_rel);
  }
  void set(MonoTime t) noexcept {
    ns_.store(t.time_since_epoch().count(), std::memory_order_release);
  }

 private:
  std::atomic<MonoClock::duration::rep> ns_;
};

}  // namespace nld::resolver::net
