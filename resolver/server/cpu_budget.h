// How many worker threads to run by default: one per CPU the process may run on, capped by the
// CPU quota of its cgroup. In a Kubernetes pod the affinity mask is usually the whole node (96
// CPUs on a large node) while the container's limit may be a fraction of one CPU; one thread per
// node CPU then means dozens of threads fighting over the quota (CFS throttling stalls every
// one of them at once) and a per-worker memory cost paid dozens of times. Go's runtime does the
// same since 1.25 (GOMAXPROCS follows the cgroup limit), which is what CoreDNS gets.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nld::resolver::server {

/// cgroup v2 `cpu.max` ("max 100000", "250000 100000") → CPUs (2.5); nullopt for no limit or
/// unreadable text.
std::optional<double> parseCpuMax(std::string_view text);

/// The tightest CPU quota over the process's cgroup and its ancestors (v2 `cpu.max`, or v1
/// `cpu.cfs_quota_us`/`cpu.cfs_period_us`), nullopt when none is set. `root` is the cgroup mount,
/// `self` the /proc/self/cgroup text (parameters for tests).
std::optional<double> cgroupCpuQuota(const std::string& root, std::string_view self);

struct CpuBudget {
  std::vector<int> cpus;        ///< affinity mask, ascending
  std::optional<double> quota;  ///< cgroup CPU limit, if any
  unsigned workers = 1;         ///< min(cpus, ceil(quota)), at least 1
  bool quota_limited = false;   ///< workers < cpus because of the quota
};

CpuBudget cpuBudget(std::vector<int> cpus, std::optional<double> quota);

/// The budget of this process (sched_getaffinity + /sys/fs/cgroup + /proc/self/cgroup).
CpuBudget currentCpuBudget();

}  // namespace nld::resolver::server
