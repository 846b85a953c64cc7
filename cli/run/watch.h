// Directory watcher (inotify) for `run`'s config sync: the -basecorefile directory and the
// -kubednscm directory. Kubelet updates a mounted ConfigMap by writing a new timestamped
// directory and renaming a `..data` symlink over the old one, so the *directory* is watched
// (create, moved-to/from, delete, close-write, attrib) — a watch on the file itself would follow
// the old inode and miss the swap.
//
// A directory that does not exist yet (optional ConfigMap volume) or disappears is retried by
// rewatch(), which the caller runs on its periodic tick. Our own atomic writes of -conf may land
// in a watched directory; events for ignored names (and their "<name>.tmp.*" temporaries) are
// skipped so a write does not trigger another render.
//
// Threading: one thread. No logging above debug.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/fd.h"
#include "base/result.h"

namespace nld::cli {

class DirWatcher {
 public:
  static Result<std::unique_ptr<DirWatcher>> create();

  /// Adds `dir` to the watched set. A missing directory is not an error (watched once it
  /// appears, after rewatch()); other failures (e.g. ENOSPC: too many watches) are.
  Result<void> add(const std::string& dir);
  /// Events whose file name equals `name` or starts with "<name>.tmp." are ignored.
  void ignoreName(const std::string& name);
  /// Re-adds directories whose watch is gone (deleted, not created yet). True if a directory
  /// became watched (the caller should re-read: it may have changed while unwatched).
  bool rewatch();

  int fd() const { return fd_.get(); }
  /// Reads every pending event without blocking; true if any relevant one arrived.
  bool drain();
  /// The watched set (for status and tests): directory → currently watched.
  std::vector<std::pair<std::string, bool>> watched() const;

 private:
  explicit DirWatcher(Fd fd) : fd_(std::move(fd)) {}
  struct Entry {
    std::string dir;
    int wd = -1;
  };
  Fd fd_;
  std::vector<Entry> entries_;
  std::vector<std::string> ignored_;
};

}  // namespace nld::cli
