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

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip.h"
#include "base/result.h"
#include "netcfg/rules/rule.h"
#include "netcfg/detect/rules_backend.h"

namespace nld::netcfg {

struct RuleSpec {
  std::vector<IpAddress> local_ips;  // both families may be mixed
  uint16_t dns_port = 53;
  uint16_t health_port = 8080;
};

struct RulesOptions {
  RulesBackend backend = RulesBackend::kIptables;
  std::string lock_path = "/run/xtables.lock";
  std::chrono::milliseconds lock_timeout{5000};
  /// iptables only: skip (family, table) pairs the kernel does not have yet instead of opening
  /// them (opening a legacy table creates it). For cleaning up after the other backend.
  bool only_existing_tables = false;
};

/// The 12 rules per local address, in upstream's list order (spec §4.1), addresses in order.
std::vector<Rule> nodeLocalDnsRules(const RuleSpec& spec);

/// Dry run: the iptables-save text ensureRules() converges to for our rules, grouped per
/// (family, table): a header line `# iptables -t raw` / `# ip6tables -t filter`, `*<table>`, the
/// `-A` lines in final chain order, `COMMIT`. Foreign rules are not shown.
std::vector<std::string> planRulesText(const RuleSpec& spec);
/// The same for either backend; nftables: `# nft -f -` then the table as nft lists it.
std::vector<std::string> planRulesText(const RuleSpec& spec, RulesBackend backend);

struct RulesReport {
  int inserted = 0;
  int duplicates_removed = 0;
  int already_present = 0;
  int removed = 0;
  int tables_rewritten = 0;  // nftables: 1 when the table was (re)written
};

/// Makes every rule present exactly once (see the contract above).
/// @return counts of what changed; an Error naming the family/table on failure (a table that
///         failed is left unchanged; the others are committed).
Result<RulesReport> ensureRules(const RuleSpec& spec, const RulesOptions& options = {});

/// Deletes every copy of every rule (RulesReport::removed counts them).
Result<RulesReport> removeRules(const RuleSpec& spec, const RulesOptions& options = {});

struct RuleStatus {
  Rule rule;
  int copies = 0;
};

/// Reads the tables (no lock, no change) and counts copies of each rule, in list order.
Result<std::vector<RuleStatus>> checkRules(const RuleSpec& spec, const RulesOptions& options = {});

/// True when the legacy x_tables `table` of `family` exists (listed in /proc/net/ip_tables_names
/// or ip6_tables_names) and has a chain named `chain`. Never creates the table. Read-only.
Result<bool> legacyChainExists(Family family, const std::string& table, const std::string& chain);

/// Step 4b of backend detection (rules_backend.h): the rules in the legacy x_tables that exist
/// (every table in /proc/net/ip_tables_names and ip6_tables_names, every chain), as
/// `iptables-legacy-save` + `ip6tables-legacy-save` print them as `-A` lines, without the rules
/// that carry one of our comments (ours or the upstream agent's). Never creates a table. Read-only,
/// no lock (like iptables-save: the kernel hands out a consistent snapshot per table).
Result<int64_t> countLegacyRules();

/// Upstream's `errortype` label of coredns_nodecache_setup_errors_total for a rules error:
/// "iptables_lock" when the xtables lock timed out (Errc::kBusy), else "iptables".
inline std::string_view rulesErrorType(const Error& error) noexcept {
  return error.code() == Errc::kBusy ? "iptables_lock" : "iptables";
}

}  // namespace nld::netcfg
