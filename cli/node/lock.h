// The node lock: install, teardown and stop change the node one at a time. No logging.
#pragma once

#include <optional>
#include <string>

#include "base/fd.h"
#include "base/result.h"
#include "cli/node/state.h"

namespace nld::cli {

/// Exclusive lock of the workflows that change the node (install, teardown, stop): one at a time,
/// so two runs cannot both start a daemon or undo each other halfway. flock() on
/// `<pidfile>.lock` (with the pidfile in /run it goes away at reboot; the file is never removed,
/// which would race), not waiting: a held lock is a clear error at once. Released on destruction
/// (and by the kernel if the process dies).
class NodeLock {
 public:
  /// @return kBusy "another nodelocaldns install, teardown or stop is running (pid N holds
  ///   '<path>')"; kSystem when the file cannot be created.
  static Result<NodeLock> acquire(const std::string& pidfile);
  NodeLock(NodeLock&&) noexcept = default;
  NodeLock& operator=(NodeLock&&) noexcept = default;

 private:
  explicit NodeLock(Fd fd) : fd_(std::move(fd)) {}
  Fd fd_;
};

/// The state file as read under the node lock, for teardown and stop.
struct LockedNodeState {
  NodeLock lock;
  std::string pidfile;                     // the daemon's pidfile (and the lock's name)
  Result<std::optional<NodeState>> state;  // as loadNodeState(), read after locking
};

/// Takes the node lock, then reads the state file: a run acting on what it read before it held
/// the lock could undo half of a concurrent install it never saw. The lock is named by the
/// pidfile, which the state file records: `pidfile` when `pidfile_given` or there is no
/// readable state, else the state's; if the state read under the lock names another pidfile (an
/// install with another --pidfile finished meanwhile), that one is locked instead.
/// @return NodeLock::acquire()'s errors.
Result<LockedNodeState> lockNodeState(const std::string& state_file, const std::string& pidfile,
                                      bool pidfile_given);

}  // namespace nld::cli
