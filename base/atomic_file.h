// Files we rewrite (rendered manifests, Corefiles, kubelet config) are written atomically: a
// temporary file in the same directory, fsync, rename over the target, fsync the directory. A
// reader sees the old or the new content, never a mix; a failure leaves the target untouched.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "base/fd.h"
#include "base/result.h"

namespace nld {

struct AtomicWriteOptions {
  /// Permission bits of a new file; an existing file keeps its own mode and owner (unless
  /// `ours`).
  mode_t mode = 0644;
  /// For files only we write (the pidfile): a symbolic link at `path` is refused (nothing
  /// written), and the new file always has `mode` and our owner, whoever created the old one.
  bool ours = false;
  /// When set and the target exists, its current content is first copied (atomically) here.
  std::optional<std::string> backup_path;
};

Result<void> writeFileAtomic(const std::string& path, std::string_view content,
                             const AtomicWriteOptions& options = {});

/// Reads a whole (small) file.
Result<std::string> readFile(const std::string& path);

/// Opens a file of ours (lock file, log file) without following a symbolic link in its last
/// component: a planted link gives kInvalidArgument "'P' is a symbolic link; refusing to follow
/// it", and so does anything but a regular file (a FIFO does not block the open). `flags` as for
/// open(2); O_NOFOLLOW and O_CLOEXEC are added. The file then has `mode` and our effective
/// uid/gid: one pre-created by another user (say 0666 by nobody) is taken over, or refused when
/// we may not chown it.
Result<Fd> openOwnFile(const std::string& path, int flags, mode_t mode);

/// readFile() of a file of ours: a symbolic link or a non-regular file is refused as above.
Result<std::string> readOwnFile(const std::string& path);

}  // namespace nld
