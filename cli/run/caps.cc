#include "cli/run/caps.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

namespace nld::cli {
namespace {

constexpr uint64_t bit(int cap) { return uint64_t{1} << cap; }

// Highest capability the running kernel knows (it may be newer than our headers).
int lastCap() {
  int last = CAP_LAST_CAP;
  std::ifstream in("/proc/sys/kernel/cap_last_cap");
  int v = 0;
  if (in >> v && v >= 0 && v < 64) {
    last = v;
  }
  return last;
}

struct Sets {
  uint64_t effective = 0;
  uint64_t permitted = 0;
  uint64_t inheritable = 0;
};

Result<Sets> getSets() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &header, data) != 0) {
    return failSys(errno, "capget");
  }
  Sets s;
  s.effective = data[0].effective | (uint64_t{data[1].effective} << 32);
  s.permitted = data[0].permitted | (uint64_t{data[1].permitted} << 32);
  s.inheritable = data[0].inheritable | (uint64_t{data[1].inheritable} << 32);
  return s;
}

Result<void> setSets(const Sets& s) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  data[0].effective = static_cast<uint32_t>(s.effective);
  data[1].effective = static_cast<uint32_t>(s.effective >> 32);
  data[0].permitted = static_cast<uint32_t>(s.permitted);
  data[1].permitted = static_cast<uint32_t>(s.permitted >> 32);
  data[0].inheritable = static_cast<uint32_t>(s.inheritable);
  data[1].inheritable = static_cast<uint32_t>(s.inheritable >> 32);
  if (::syscall(SYS_capset, &header, data) != 0) {
    return failSys(errno, "capset");
  }
  return {};
}

}  // namespace

uint64_t keptCapabilities() {
  return bit(CAP_NET_ADMIN) | bit(CAP_NET_RAW) | bit(CAP_NET_BIND_SERVICE);
}

Result<CapabilityDrop> dropCapabilities() {
  CapabilityDrop out;
  auto before = getSets();
  if (!before) {
    return fail(std::move(before.error()));
  }
  out.effective_before = before->effective;
  const uint64_t keep = keptCapabilities();
  // Ambient capabilities would survive an execve of a helper: none.
  (void)::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  // The bounding set first: dropping from it needs CAP_SETPCAP, which goes below.
  if ((before->effective & bit(CAP_SETPCAP)) != 0) {
    for (int cap = 0; cap <= lastCap(); ++cap) {
      if ((keep & bit(cap)) != 0 || ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1) {
        continue;
      }
      if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
        return failSys(errno, "drop capability " + std::to_string(cap) + " from the bounding set");
      }
    }
    out.bounding_dropped = true;
  }
  Sets after;
  after.effective = before->effective & keep;
  after.permitted = before->permitted & keep;
  after.inheritable = 0;
  if (after.effective != before->effective || after.permitted != before->permitted ||
      before->inheritable != 0) {
    if (auto r = setSets(after); !r) {
      return fail(std::move(r.error()));
    }
  }
  out.effective_after = after.effective;
  return out;
}

std::string capabilityNames(uint64_t caps) {
  static constexpr const char* kNames[] = {
      "cap_chown",           "cap_dac_override",     "cap_dac_read_search",
      "cap_fowner",          "cap_fsetid",           "cap_kill",
      "cap_setgid",          "cap_setuid",           "cap_setpcap",
      "cap_linux_immutable", "cap_net_bind_service", "cap_net_broadcast",
      "cap_net_admin",       "cap_net_raw"};
  std::string out;
  for (int cap = 0; cap < 64; ++cap) {
    if ((caps & bit(cap)) == 0) {
      continue;
    }
    out += out.empty() ? "" : ",";
    out += cap < static_cast<int>(std::size(kNames)) ? kNames[cap] : "cap_" + std::to_string(cap);
  }
  return out.empty() ? "none" : out;
}

}  // namespace nld::cli
