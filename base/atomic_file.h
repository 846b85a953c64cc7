// Files we rewrite (rendered manifests, Corefiles, kubelet config) are written atomically: a
// temporary file in the same directory, fsync, rename over the target, fsync the directory. A
// reader sees the old or the new content, never a mix; a failure leaves the target untouched.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace nld {

struct AtomicWriteOptions {
  /// Permission bits of a new file; an existing file keeps its own mode and owner.
  mode_t mode = 0644;
  /// When set and the target exists, its current content is first copied (atomically) here.
  std::optional<std::string> backup_path;
};

Result<void> writeFileAtomic(const std::string& path, std::string_view content,
                             const AtomicWriteOptions& options = {});

/// Reads a whole (small) file.
Result<std::string> readFile(const std::string& path);

}  // namespace nld
