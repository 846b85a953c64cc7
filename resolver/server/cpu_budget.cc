#include "resolver/server/cpu_budget.h"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "base/atomic_file.h"

namespace nld::resolver::server {
namespace {

std::optional<long long> parseInt(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

std::optional<std::string> readSmall(const std::string& path) {
  auto text = readFile(path);
  if (!text) {
    return std::nullopt;
  }
  return std::move(*text);
}

std::optional<double> minQuota(std::optional<double> a, std::optional<double> b) {
  if (!a) {
    return b;
  }
  if (!b) {
    return a;
  }
  return std::min(*a, *b);
}

// "/a/b/c" → {"/a/b/c", "/a/b", "/a", ""}: a limit on any ancestor bounds us too.
std::vector<std::string> selfAndAncestors(std::string path) {
  std::vector<std::string> out;
  while (!path.empty() && path.back() == '/') {
    path.pop_back();
  }
  for (;;) {
    out.push_back(path);
    auto slash = path.rfind('/');
    if (path.empty() || slash == std::string::npos) {
      break;
    }
    path.resize(slash);
  }
  return out;
}

std::optional<double> v1Quota(const std::string& dir) {
  auto quota = readSmall(dir + "/cpu.cfs_quota_us");
  auto period = readSmall(dir + "/cpu.cfs_period_us");
  if (!quota || !period) {
    return std::nullopt;
  }
  auto q = parseInt(*quota);
  auto p = parseInt(*period);
  if (!q || !p || *q <= 0 || *p <= 0) {
    return std::nullopt;  // -1 = unlimited
  }
  return static_cast<double>(*q) / static_cast<double>(*p);
}

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    auto at = text.find(sep);
    out.push_back(text.substr(0, at));
    if (at == std::string_view::npos) {
      return out;
    }
    text.remove_prefix(at + 1);
  }
}

}  // namespace

std::optional<double> parseCpuMax(std::string_view text) {
  auto space = text.find(' ');
  if (space == std::string_view::npos) {
    return std::nullopt;
  }
  auto quota = parseInt(text.substr(0, space));  // "max" → nullopt
  auto period = parseInt(text.substr(space + 1));
  if (!quota || !period || *quota <= 0 || *period <= 0) {
    return std::nullopt;
  }
  return static_cast<double>(*quota) / static_cast<double>(*period);
}

std::optional<double> cgroupCpuQuota(const std::string& root, std::string_view self) {
  std::optional<double> best;
  for (std::string_view line : split(self, '\n')) {
    // "hierarchy-ID:controller-list:cgroup-path"; v2 is "0::/path".
    auto first = line.find(':');
    auto second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) {
      continue;
    }
    std::string_view controllers = line.substr(first + 1, second - first - 1);
    std::string path(line.substr(second + 1));
    if (line.substr(0, first) == "0" && controllers.empty()) {
      for (const auto& dir : selfAndAncestors(path)) {
        if (auto text = readSmall(root + dir + "/cpu.max")) {
          best = minQuota(best, parseCpuMax(*text));
        }
      }
      continue;
    }
    bool cpu = false;
    for (std::string_view c : split(controllers, ',')) {
      cpu = cpu || c == "cpu";
    }
    if (!cpu) {
      continue;
    }
    // v1: mounted as cpu,cpuacct (Debian, most distributions) or cpu; in a container with its
    // own cgroup namespace the path is "/" and the mount is the container's cgroup.
    for (const char* mount : {"/cpu,cpuacct", "/cpu"}) {
      for (const auto& dir : selfAndAncestors(path)) {
        best = minQuota(best, v1Quota(root + mount + dir));
      }
    }
  }
  return best;
}

CpuBudget cpuBudget(std::vector<int> cpus, std::optional<double> quota) {
  CpuBudget b;
  b.cpus = std::move(cpus);
  if (b.cpus.empty()) {
    b.cpus.push_back(0);
  }
  b.quota = quota;
  auto n = static_cast<unsigned>(b.cpus.size());
  // Compared as doubles: a quota/period ratio beyond UINT_MAX (cgroup allows ~1.7e10) must not
  // be converted first.
  if (quota && std::ceil(*quota - 1e-9) < static_cast<double>(n)) {
    n = static_cast<unsigned>(std::max(1.0, std::ceil(*quota - 1e-9)));
    b.quota_limited = true;
  }
  b.workers = std::max(1U, n);
  return b;
}

CpuBudget currentCpuBudget() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int i = 0; i < CPU_SETSIZE; ++i) {
      if (CPU_ISSET(i, &set)) {
        cpus.push_back(i);
      }
    }
  }
  auto self = readSmall("/proc/self/cgroup");
  return cpuBudget(std::move(cpus), self ? cgroupCpuQuota("/sys/fs/cgroup", *self) : std::nullopt);
}

}  // namespace nld::resolver::server
