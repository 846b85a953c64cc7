#include "base/proc.h"

#include <array>
#include <charconv>
#include <string>

#include "base/atomic_file.h"

namespace nld {
namespace {

template <typename T>
bool parseNumber(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::optional<ProcStat> parseProcStat(std::string_view text) {
  const size_t paren = text.rfind(')');
  if (paren == std::string_view::npos) {
    return std::nullopt;
  }
  // f[i] is field i + 3: the state is the first field after the command name.
  std::array<std::string_view, 22> f;
  std::string_view rest = text.substr(paren + 1);
  for (auto& field : f) {
    const size_t start = rest.find_first_not_of(" \n");
    if (start == std::string_view::npos) {
      return std::nullopt;
    }
    rest.remove_prefix(start);
    field = rest.substr(0, rest.find_first_of(" \n"));
    rest.remove_prefix(field.size());
  }
  ProcStat st;
  st.state = f[0][0];
  if (!parseNumber(f[1], st.ppid) || !parseNumber(f[11], st.utime) ||
      !parseNumber(f[12], st.stime) || !parseNumber(f[17], st.num_threads) ||
      !parseNumber(f[19], st.start_time) || !parseNumber(f[20], st.vsize) ||
      !parseNumber(f[21], st.rss)) {
    return std::nullopt;
  }
  return st;
}

std::optional<ProcStat> readProcStat(pid_t pid) {
  auto text = readFile(pid == 0 ? std::string("/proc/self/stat")
                                : "/proc/" + std::to_string(pid) + "/stat");
  if (!text) {
    return std::nullopt;
  }
  return parseProcStat(*text);
}

}  // namespace nld
