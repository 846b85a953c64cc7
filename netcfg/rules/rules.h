// nodelocaldns' netfilter rules: the 12 upstream node-cache rules per local address (spec §4.1),
// installed through libip4tc / libip6tc (the legacy x_tables kernel API, like iptables-legacy), or,
// with RulesOptions::backend = kNftables, as one nftables table of our own (nft_rules.h: the
// contract below is then that file's; the lock options are unused).
//
// Contract:
// - ensureRules() does one read-modify-commit per (family, table) under the xtables lock (flock on
//   RulesOptions::lock_path, as iptables-legacy does). Nothing is committed when nothing changes.
// - Encoding is the iptables binary's (tcp/udp match rev 0, comment match rev 0 with its 256-byte
//   buffer, NOTRACK as `CT` rev 2 flags NOTRACK|NOTRACK_ALIAS, ACCEPT as a standard verdict), so
//   `iptables-legacy -C <chain> -t <table> <upstream args>` finds our rules and rules that the
//   upstream agent made with `iptables -I` are recognised (decoded semantically) and adopted.
// - Position policy (upstream checks presence only, so do we — no flapping against kube-proxy or a
//   CNI that also insert at position 1): a rule that exists is never moved. A missing rule is
//   inserted next to our other rules of the same chain so that our block keeps the order a fresh
//   upstream install has (the reverse of the list, spec §4.2); when none of ours is in the chain
//   the block goes to the top. Extra copies of a rule (kubernetes/dns#568) are deleted; the top-
//   most copy is kept. Foreign rules are never touched.
// - removeRules() deletes every copy of every rule, ours or the upstream agent's.
// - Both try every (family, table) even when one fails (so IPv6 trouble does not keep the IPv4
//   rules away) and report the first error; a lock timeout or a permission error stops at once
//   (the other tables would wait, or fail, the same way). Each table is all-or-nothing: a failed
//   one is left unchanged.
// - Errors: lock wait timed out → Errc::kBusy ("xtables lock '/run/xtables.lock' held by another
//   process for 5s"); missing privileges → kPermissionDenied; other libiptc failures → kSystem etc.
//   with iptc_strerror() text captured at the failing call. No call logs above debug.
// - Thread safety: callable from any thread; libiptc sessions are serialised by a process-wide
//   mutex, writers across processes by the xtables lock.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "netcfg/rules/backend.h"
#include "netcfg/rules/rule_set.h"

namespace nld::netcfg {

/// The same for either backend; nftables: `# nft -f -` then the table as nft lists it.
std::vector<std::string> planRulesText(const RuleSpec& spec, RulesBackend backend);

/// Makes every rule present exactly once (see the contract above).
/// @return counts of what changed; an Error naming the family/table on failure (a table that
///         failed is left unchanged; the others are committed).
Result<RulesReport> ensureRules(const RuleSpec& spec, const RulesOptions& options = {});

/// Deletes every copy of every rule (RulesReport::removed counts them).
Result<RulesReport> removeRules(const RuleSpec& spec, const RulesOptions& options = {});

/// Reads the tables (no lock, no change) and counts copies of each rule, in list order.
Result<std::vector<RuleStatus>> checkRules(const RuleSpec& spec, const RulesOptions& options = {});

/// Upstream's `errortype` label of coredns_nodecache_setup_errors_total for a rules error:
/// "iptables_lock" when the xtables lock timed out (Errc::kBusy), else "iptables".
inline std::string_view rulesErrorType(const Error& error) noexcept {
  return error.code() == Errc::kBusy ? "iptables_lock" : "iptables";
}

}  // namespace nld::netcfg
