// Rules-backend detection for `--rules-backend auto` (the backends: rules/backend.h).
//
// detectRulesBackend() decides `auto` from these signals, in order; the first one present decides:
//   1. kube-proxy's mode, when the caller knows it: nftables → nftables
//      (unknown: a chain in an nftables table `ip kube-proxy` / `ip6 kube-proxy` → nftables)
//   2. a KUBE-IPTABLES-HINT or KUBE-KUBELET-CANARY chain in nftables `ip mangle` / `ip6 mangle`
//      (made by iptables-nft for kubelet/kube-proxy)                               → nftables
//   3. the same chains in the legacy mangle tables (read only when the table already exists:
//      opening it would create it)                                               → iptables
//   4. our own table `inet nodelocaldns` exists (an earlier run chose nftables)    → nftables
//   4b. rule counts: the rules in the nftables tables iptables-nft makes (families ip/ip6, tables
//      filter, nat, mangle, raw, security) against the rules in the legacy x_tables that exist
//      (both families, every table and chain), ours (by comment) left out on both sides:
//      more iptables-nft rules → nftables, more legacy rules → iptables, a tie → step 5.
//      Legacy is counted first; iptables-nft only until it passes legacy. Counts decide only
//      when both sides could be read (else: step 5, and `run` detects again next sync).
//   5. nothing (a tie, or a side not counted): iptables (legacy), as before this backend existed.
// Steps 2-3 are kubernetes-sigs/iptables-wrappers' own test (node-cache spec §4.5), without
// exec'ing iptables-*-save. Step 4b is the last step of the wrapper's shell version (the `v2` tag
// that upstream's image runs), which counts the `-A` lines of iptables-{legacy,nft}-save and
// ip6tables-{legacy,nft}-save. Where we differ: the wrapper picks nft on a tie, also 0 against 0
// (its Go rewrite skips counting and always defaults to nft); we keep legacy there, as before
// step 4b existed. The wrapper counts every rule; we leave out ours (and the upstream agent's:
// same comments), so rules we made ourselves never vote for the backend that holds them.
// A probe that cannot run counts as "absent" (0 rules) and is named in the text.
// Cost: steps 1-4 are one `nft list chains` and at most four libiptc reads of legacy mangle; 4b
// adds one libiptc read per existing legacy table (~0.8 us per rule) and one netlink rule dump
// per existing iptables-nft table (~3.7 us per rule counted). Counting nft stops past legacy, so
// it costs about the legacy read plus one dump batch; a tie of large counts pays for both in full
// (numbers: MeasureRuleCountWithTenThousandRules in tests/netcfg/rules/nftables/nft_netns_test.cc).
// Threading: stateless, callable from any thread. Does not log.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "netcfg/detect/proxy_mode.h"
#include "netcfg/rules/backend.h"

namespace nld::netcfg {

struct RulesBackendDetection {
  RulesBackend backend = RulesBackend::kIptables;
  /// The deciding signal, e.g. "chain KUBE-KUBELET-CANARY in nftables table 'ip mangle'
  /// (iptables-nft)", "rule counts: 12 iptables-nft vs 0 legacy" or "default: no signal
  /// (...why each probe found nothing...)".
  std::string signal;
  bool by_default = false;     ///< no signal at all: the iptables fallback of step 5
  bool by_rule_count = false;  ///< decided by step 4b, the weakest signal (a count can change)
};

/// What step 4b counted.
struct RuleCounts {
  int64_t iptables_nft = 0;  ///< rules in nftables ip/ip6 filter, nat, mangle, raw, security
  int64_t legacy = 0;        ///< rules in the legacy x_tables that exist, both families
  /// Counting iptables-nft stopped once it passed `legacy` (the answer cannot change; the rest
  /// would only cost time): `iptables_nft` is then a lower bound.
  bool iptables_nft_partial = false;
};

/// Step 4b alone (pure): nftables when iptables-nft holds strictly more rules, iptables when
/// legacy holds strictly more, std::nullopt on a tie (0 against 0 included): step 5 decides.
std::optional<RulesBackend> backendByRuleCounts(const RuleCounts& counts) noexcept;

/// "rule counts: 12 iptables-nft vs 0 legacy"; partial: "at least 73 iptables-nft".
std::string ruleCountsText(const RuleCounts& counts);

/// Runs the probes above. `proxy_mode`: kube-proxy's mode if the caller already detected it.
/// Never fails: an unreadable signal is reported in `signal` and skipped.
RulesBackendDetection detectRulesBackend(std::optional<ProxyMode> proxy_mode = std::nullopt);

}  // namespace nld::netcfg
