// /proc/<pid>/stat (proc(5)): the fields our callers read, parsed in one place. The command name
// (field 2) may hold spaces and parentheses, so fields are counted from the last ')'.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace nld {

struct ProcStat {
  char state = '?';          ///< field 3: R, S, D, Z (zombie), T, ...
  pid_t ppid = 0;            ///< field 4
  uint64_t utime = 0;        ///< field 14, clock ticks (sysconf(_SC_CLK_TCK))
  uint64_t stime = 0;        ///< field 15, clock ticks
  uint64_t num_threads = 0;  ///< field 20
  uint64_t start_time = 0;   ///< field 22, clock ticks after boot
  uint64_t vsize = 0;        ///< field 23, bytes
  uint64_t rss = 0;          ///< field 24, pages
};

/// Parses the text of a /proc/<pid>/stat file; nullopt if it has no ')' or fewer than 24 fields.
std::optional<ProcStat> parseProcStat(std::string_view text);

/// Reads and parses /proc/<pid>/stat (/proc/self/stat for pid 0); nullopt if the process is
/// gone or the file unreadable or malformed.
std::optional<ProcStat> readProcStat(pid_t pid = 0);

}  // namespace nld
