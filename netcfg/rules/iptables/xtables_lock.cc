#include "netcfg/rules/iptables/xtables_lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include <algorithm>
#include <cerrno>
#include <thread>

namespace nld::netcfg {

std::string formatDuration(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) {
    return std::to_string(d.count() / 1000) + "s";
  }
  return std::to_string(d.count()) + "ms";
}

Result<XtablesLock> XtablesLock::acquire(const std::string& path,
                                         std::chrono::milliseconds timeout) {
  // Same mode as iptables-legacy (xshared.c: open(XT_LOCK_NAME, O_CREAT, 0600)).
  Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) {
    return failSys(errno, "open xtables lock '" + path + "'");
  }
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  auto backoff = std::chrono::milliseconds(1);
  for (;;) {
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
      auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
      return XtablesLock(std::move(fd), waited);
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno != EWOULDBLOCK) {
      return failSys(errno, "lock xtables lock '" + path + "'");
    }
    auto now = Clock::now();
    if (now >= deadline) {
      return fail(Errc::kBusy, "xtables lock '" + path + "' held by another process for " +
                                   formatDuration(timeout));
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    std::this_thread::sleep_for(std::max(std::chrono::milliseconds(1), std::min(backoff, left)));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(100));
  }
}

}  // namespace nld::netcfg
