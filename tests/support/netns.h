// Test support: throw-away network namespaces and running commands.
//
// Every test that touches links or rules calls NLD_ENTER_NETNS() first. ctest runs each TEST as
// its own process (gtest_discover_tests), so the namespace — and every link, address and rule
// made in it — is gone when the test ends, whether it passed, failed or crashed. The host's
// namespace is never touched.
#pragma once

#include <gtest/gtest.h>

#include <string>

namespace nld::test {

/// Moves this process into a new network and mount namespace (loopback up, /sys remounted).
/// Returns "" on success, else why it could not (not root, EPERM, ...): the caller skips.
/// Must be called before the process starts any thread.
std::string enterThrowawayNetns();

/// Root (euid 0) or "" → reason string for GTEST_SKIP.
std::string requireRoot();

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout and stderr, interleaved
};

/// Runs `sh -c command`, capturing output. Never throws.
CommandResult run(const std::string& command);

/// Absolute path of a file under the source tree (from NLD_SOURCE_DIR, set by ctest).
std::string sourcePath(const std::string& relative);
/// Absolute path of a file under the build tree (from NLD_BINARY_DIR, set by ctest).
std::string binaryPath(const std::string& relative);

/// A fresh directory under /tmp, removed in the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace nld::test

/// Enter a private network namespace or skip the test with the reason.
#define NLD_ENTER_NETNS()                                                        \
  do {                                                                           \
    if (auto nld_why_ = ::nld::test::enterThrowawayNetns(); !nld_why_.empty()) { \
      GTEST_SKIP() << nld_why_;                                                  \
    }                                                                            \
  } while (0)
