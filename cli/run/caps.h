// Capabilities of `nodelocaldns run` after start-up: everything but what the run loop needs is
// dropped for good — from the effective, permitted and inheritable sets, the ambient set and the
// bounding set (so no exec'd helper can regain it either). Kept: CAP_NET_ADMIN (interface,
// iptables/nftables rules, link watcher), CAP_NET_RAW (libiptc's raw socket) and
// CAP_NET_BIND_SERVICE (listeners added by a reload on port 53). CAP_DAC_OVERRIDE and friends go:
// files the daemon reads later (Corefile, ConfigMap, resolv.conf) must be readable by root as
// their owner or by mode, which they are in the manifests' mounts.
//
// Capabilities are per thread on Linux and capset(2) changes only the caller's, so this must run
// before the process starts any other thread (Daemon::startUp calls it before the DNS server
// starts). Direct capset(2)/prctl(2) calls: no libcap dependency for five system calls.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"

namespace nld::cli {

/// The capabilities kept (bit per CAP_* number).
uint64_t keptCapabilities();

struct CapabilityDrop {
  uint64_t effective_before = 0;
  uint64_t effective_after = 0;
  bool bounding_dropped = false;  ///< false without CAP_SETPCAP (then nothing was in it anyway)
};

/// Drops every capability not in keptCapabilities() from this thread (see above). Never adds
/// one. An unprivileged process has nothing to drop and succeeds.
Result<CapabilityDrop> dropCapabilities();

/// "cap_net_admin,cap_net_raw" style names of the bits set in `caps` (for the log).
std::string capabilityNames(uint64_t caps);

}  // namespace nld::cli
