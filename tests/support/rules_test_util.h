// Helpers for the rules tests: a child process holding the xtables lock, iptables-save text
// normalised for golden comparison, golden files.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

namespace nld::test {

/// Forks a child that takes flock(LOCK_EX) on `path` and holds it for `hold` (negative: until
/// this object is destroyed). The constructor returns once the child holds the lock.
class LockHolder {
 public:
  LockHolder(const std::string& path, std::chrono::milliseconds hold);
  ~LockHolder();
  LockHolder(const LockHolder&) = delete;
  LockHolder& operator=(const LockHolder&) = delete;

 private:
  pid_t pid_ = -1;
};

/// `<bin>-save -t <table>` without '#' lines and without " [packets:bytes]" counters.
std::string saveTable(const std::string& bin, const std::string& table);
/// The whole `<bin>-save` output (all tables) normalised the same way.
std::string saveAll(const std::string& bin);
/// Same normalisation for any text.
std::string normaliseSave(const std::string& text);
/// tests/golden/<name> without its '#' lines.
std::string golden(const std::string& name);

}  // namespace nld::test
