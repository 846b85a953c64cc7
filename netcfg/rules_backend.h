// Which netfilter API holds nodelocaldns' rules: legacy x_tables through libiptc (as
// iptables-legacy) or our own nftables table (nft_rules.h). A node must never have both: the two
// run at separate hooks, and mixing confuses the iptables-wrapper and CNIs that detect the mode
// (users-and-perf items 13-14).
//
// detectRulesBackend() decides `auto` from these signals, in order; the first one present decides:
//   1. kube-proxy's mode, when the caller knows it: nftables → nftables
//      (unknown: a chain in an nftables table `ip kube-proxy` / `ip6 kube-proxy` → nftables)
//   2. a KUBE-IPTABLES-HINT or KUBE-KUBELET-CANARY chain in nftables `ip mangle` / `ip6 mangle`
//      (made by iptables-nft for kubelet/kube-proxy)                               → nftables
//   3. the same chains in the legacy mangle tables (read only when the table already exists:
//      opening it would create it)                                               → iptables
//   4. our own table `inet nodelocaldns` exists (an earlier run chose nftables)    → nftables
//   5. nothing: iptables (legacy), as before this backend existed.
// Steps 2-3 are kubernetes-sigs/iptables-wrappers' own test (node-cache spec §4.5), without
// exec'ing iptables-*-save. A probe that cannot run counts as "absent" and is named in the text.
// Threading: stateless, callable from any thread. Does not log.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/proxy_mode.h"
#include "base/result.h"

namespace nld::netcfg {

enum class RulesBackend : uint8_t { kIptables, kNftables };

/// "iptables" / "nftables".
std::string_view toString(RulesBackend backend) noexcept;

/// The backend that is not `backend` (where our rules must not also be).
constexpr RulesBackend otherBackend(RulesBackend backend) noexcept {
  return backend == RulesBackend::kNftables ? RulesBackend::kIptables : RulesBackend::kNftables;
}

/// "iptables" | "nftables"; anything else → kInvalidArgument
/// "invalid rules backend 'x': expected iptables or nftables".
Result<RulesBackend> parseRulesBackend(std::string_view text);

struct RulesBackendDetection {
  RulesBackend backend = RulesBackend::kIptables;
  /// The deciding signal, e.g. "chain KUBE-KUBELET-CANARY in nftables table 'ip mangle'
  /// (iptables-nft)" or "default: no signal (...why each probe found nothing...)".
  std::string signal;
  bool by_default = false;  ///< no signal at all: the iptables fallback of step 5
};

/// Runs the probes above. `proxy_mode`: kube-proxy's mode if the caller already detected it.
/// Never fails: an unreadable signal is reported in `signal` and skipped.
RulesBackendDetection detectRulesBackend(std::optional<ProxyMode> proxy_mode = std::nullopt);

}  // namespace nld::netcfg
