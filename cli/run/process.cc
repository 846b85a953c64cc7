#include "cli/run/process.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "base/atomic_file.h"
#include "base/proc.h"

namespace nld::cli {
namespace {

// /proc/net/udp prints each 32-bit word of the address as the host reads it from memory (%08X).
std::string procHex(const IpAddress& ip) {
  std::string out;
  char buf[9];
  for (size_t i = 0; i < ip.size(); i += 4) {
    uint32_t word = 0;
    std::memcpy(&word, ip.bytes() + i, 4);
    std::snprintf(buf, sizeof(buf), "%08X", word);
    out += buf;
  }
  return out;
}

void scanProcNet(const std::string& file, const std::vector<std::string>& wanted,
                 std::vector<uint64_t>& out) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::string sl, local, remote, state, queues, timer, retr, uid, timeout;
    uint64_t inode = 0;
    if (!(ss >> sl >> local >> remote >> state >> queues >> timer >> retr >> uid >> timeout >>
          inode)) {
      continue;
    }
    if (std::find(wanted.begin(), wanted.end(), local) != wanted.end() && inode != 0) {
      out.push_back(inode);
    }
  }
}

}  // namespace

Result<void> writePidFile(const std::string& path, pid_t pid) {
  AtomicWriteOptions options;
  options.mode = 0644;
  options.ours = true;  // a planted symlink is refused; someone else's old file is not kept
  if (auto r = writeFileAtomic(path, std::to_string(pid) + "\n", options); !r) {
    return fail(std::move(r.error()).withContext("write pidfile"));
  }
  return {};
}

bool removePidFileIfOwned(const std::string& path, pid_t pid) {
  auto text = readOwnFile(path);
  if (!text) {
    return false;
  }
  std::string want = std::to_string(pid);
  std::string got = *text;
  while (!got.empty() && (got.back() == '\n' || got.back() == ' ')) {
    got.pop_back();
  }
  if (got != want) {
    return false;
  }
  return ::unlink(path.c_str()) == 0;
}

std::vector<uint64_t> udpSocketInodes(const SocketAddress& address) {
  char port[5];
  std::snprintf(port, sizeof(port), "%04X", address.port);
  std::vector<uint64_t> out;
  // Exact match only: a wildcard listener on the port (dnsmasq, systemd-resolved on 0.0.0.0:53)
  // is not a successor and must not stop our teardown.
  std::vector<std::string> wanted = {procHex(address.ip) + ":" + port};
  scanProcNet(address.ip.isV4() ? "/proc/net/udp" : "/proc/net/udp6", wanted, out);
  return out;
}

std::vector<uint64_t> ownSocketInodes() {
  std::vector<uint64_t> out;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) {
    return out;
  }
  while (dirent* e = ::readdir(dir)) {
    std::string link = std::string("/proc/self/fd/") + e->d_name;
    char target[128];
    ssize_t n = ::readlink(link.c_str(), target, sizeof(target) - 1);
    if (n <= 0) {
      continue;
    }
    target[n] = '\0';
    unsigned long long inode = 0;
    if (std::sscanf(target, "socket:[%llu]", &inode) == 1) {
      out.push_back(inode);
    }
  }
  ::closedir(dir);
  std::sort(out.begin(), out.end());
  return out;
}

bool anotherInstanceServes(const std::vector<SocketAddress>& addresses) {
  std::vector<uint64_t> own = ownSocketInodes();
  for (const SocketAddress& a : addresses) {
    for (uint64_t inode : udpSocketInodes(a)) {
      if (!std::binary_search(own.begin(), own.end(), inode)) {
        return true;
      }
    }
  }
  return false;
}

std::string renderProcessMetrics() {
  auto stat = readProcStat();
  if (!stat) {
    return "";
  }
  double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  double cpu = static_cast<double>(stat->utime + stat->stime) / ticks;
  auto threads = static_cast<double>(stat->num_threads);
  auto start_ticks = static_cast<double>(stat->start_time);
  double rss = static_cast<double>(stat->rss) * static_cast<double>(::sysconf(_SC_PAGESIZE));
  double boot_time = 0;
  {
    std::ifstream in("/proc/stat");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("btime ", 0) == 0) {
        boot_time = std::stod(line.substr(6));
      }
    }
  }
  size_t fds = 0;
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (dirent* e = ::readdir(dir)) {
      if (e->d_name[0] != '.') {
        ++fds;
      }
    }
    ::closedir(dir);
  }
  // Prometheus' process collector reads the soft limit (/proc/self/limits "Max open files").
  struct rlimit nofile {};
  double max_fds = ::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY
                       ? static_cast<double>(nofile.rlim_cur)
                       : 0;
  char buf[1536];
  std::snprintf(
      buf, sizeof(buf),
      "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
      "# TYPE process_cpu_seconds_total counter\n"
      "process_cpu_seconds_total %.2f\n"
      "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
      "# TYPE process_resident_memory_bytes gauge\n"
      "process_resident_memory_bytes %.0f\n"
      "# HELP process_open_fds Number of open file descriptors.\n"
      "# TYPE process_open_fds gauge\n"
      "process_open_fds %zu\n"
      "# HELP process_max_fds Maximum number of open file descriptors.\n"
      "# TYPE process_max_fds gauge\n"
      "process_max_fds %.0f\n"
      "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
      "# TYPE process_virtual_memory_bytes gauge\n"
      "process_virtual_memory_bytes %.0f\n"
      "# HELP process_threads Number of OS threads in the process.\n"
      "# TYPE process_threads gauge\n"
      "process_threads %.0f\n"
      "# HELP process_start_time_seconds Start time of the process since unix epoch in "
      "seconds.\n"
      "# TYPE process_start_time_seconds gauge\n"
      "process_start_time_seconds %.2f\n",
      cpu, rss, fds > 0 ? fds - 1 : 0, max_fds, static_cast<double>(stat->vsize), threads,
      boot_time + start_ticks / ticks);
  return buf;
}

}  // namespace nld::cli
