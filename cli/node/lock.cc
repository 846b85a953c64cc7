#include "cli/node/lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>

#include "base/atomic_file.h"

namespace nld::cli {

Result<NodeLock> NodeLock::acquire(const std::string& pidfile) {
  const std::string path = pidfile + ".lock";
  if (auto r = ensureParentDirs(path); !r) {
    return fail(std::move(r.error()));
  }
  // O_NOFOLLOW: the pid written below must never land in the target of a planted link.
  auto opened = openOwnFile(path, O_RDWR | O_CREAT, 0600);
  if (!opened) {
    return fail(std::move(opened.error()).withContext("open lock file"));
  }
  Fd fd = std::move(*opened);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) {
      return failSys(errno, "lock '" + path + "'");
    }
    std::string holder = "another process";
    if (auto text = readOwnFile(path); text && !text->empty()) {
      holder = "pid " + text->substr(0, text->find('\n'));
    }
    return fail(Errc::kBusy, "another nodelocaldns install, teardown or stop is running (" +
                                 holder + " holds '" + path + "'); try again once it is done");
  }
  // Who holds it, for the message above (best effort).
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd.get(), 0) == 0) {
    (void)!::pwrite(fd.get(), pid.data(), pid.size(), 0);
  }
  return NodeLock(std::move(fd));
}

Result<LockedNodeState> lockNodeState(const std::string& state_file, const std::string& pidfile,
                                      bool pidfile_given) {
  auto pidfileOf = [&](const Result<std::optional<NodeState>>& state) {
    return pidfile_given || !state || !*state ? pidfile : (*state)->pidfile;
  };
  std::string want = pidfileOf(loadNodeState(state_file));
  for (int attempt = 0;; ++attempt) {
    auto lock = NodeLock::acquire(want);
    if (!lock) {
      return fail(std::move(lock.error()));
    }
    auto state = loadNodeState(state_file);
    std::string now = pidfileOf(state);
    if (now == want || attempt == 2) {
      return LockedNodeState{std::move(*lock), std::move(want), std::move(state)};
    }
    want = std::move(now);
  }
}

}  // namespace nld::cli
