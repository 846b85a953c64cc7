// XtablesLock: the lock iptables-legacy takes around every change — an exclusive flock() on
// /run/xtables.lock (the path is configurable so tests and pods can use their own file).
//
// acquire() polls with exponential backoff (1 ms doubling to 100 ms) until the timeout, so a held
// lock delays the caller instead of failing it at once; on timeout it returns Errc::kBusy with
// "xtables lock '<path>' held by another process for 5s". The lock is released when the owner is
// destroyed (closing the fd drops the flock).
#pragma once

#include <chrono>
#include <string>

#include "base/fd.h"
#include "base/result.h"

namespace nld::netcfg {

class XtablesLock {
 public:
  static Result<XtablesLock> acquire(const std::string& path, std::chrono::milliseconds timeout);

  XtablesLock(XtablesLock&&) noexcept = default;
  XtablesLock& operator=(XtablesLock&&) noexcept = default;

  /// How long acquire() waited (for metrics and the caller's debug log).
  std::chrono::milliseconds waited() const noexcept { return waited_; }

 private:
  XtablesLock(Fd fd, std::chrono::milliseconds waited) : fd_(std::move(fd)), waited_(waited) {}

  Fd fd_;
  std::chrono::milliseconds waited_{0};
};

/// "5s" for whole seconds, else "250ms".
std::string formatDuration(std::chrono::milliseconds d);

}  // namespace nld::netcfg
