// The nftables rules backend: the same 12 matches per local address as the iptables backend
// (rules.h, spec §4.1), kept in one table of our own, `table inet nodelocaldns`, through
// libnftables (users-and-perf item 14).
//
// Layout: four base chains, both families in the one inet table:
//   raw-prerouting  type filter hook prerouting priority raw     NOTRACK of queries to the address
//   raw-output      type filter hook output     priority raw     NOTRACK of our answers and of
//                                                                 host-originated queries/health
//   filter-input    type filter hook input      priority filter  ACCEPT of queries to the address
//   filter-output   type filter hook output     priority filter  ACCEPT of our answers
// Rules keep the list order of nodeLocalDnsRules() within each chain, e.g.
// `ip daddr 169.254.20.10 udp dport 53 notrack comment "NodeLocal DNS Cache: skip conntrack"`.
//
// Contract:
// - ensureNftRules() reads the table back (`list table inet nodelocaldns`, JSON) and, unless it
//   already holds exactly the wanted chains and rules, sends ONE transaction that adds the table,
//   deletes it and adds it again with the wanted content (when the table is absent: `create
//   table` and the definition, so a concurrent creator makes us re-read instead of adding
//   copies; a table delete would cost an RCU grace period). The kernel applies a transaction
//   all-or-nothing, so no packet ever sees a partial table, and a failure leaves the old one.
//   Nothing is written when nothing differs (the steady state of `run`'s sync loop is one read).
// - removeNftRules() deletes our table in one transaction (absent = fine). Foreign tables, and
//   the iptables-nft tables (`ip raw`, `ip filter`, ...), are never touched.
// - An accept in our table does NOT override a drop in another table: every base chain hooked at
//   input/output runs, in priority order, and a packet must be accepted by all of them. A host
//   firewall (firewalld's `inet firewalld`, an `inet filter` with policy drop) still needs its own
//   hole for the node-local address. The NOTRACK half does not have this limit.
// - Errors: libnftables' first error line, e.g. "nft: Operation not permitted" →
//   kPermissionDenied; others kSystem. No locking (nf_tables transactions need no xtables lock).
//   Does not log. Thread safety: callable from any thread (libnftables calls are serialised).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "netcfg/rules/nftables/nft_text.h"
#include "netcfg/rules/rule.h"
#include "netcfg/rules/rule_set.h"

namespace nld::netcfg {

/// One base chain as read back.
struct NftChain {
  std::string name;
  std::string type;  // "filter"
  std::string hook;  // "prerouting", "input", "output"
  int64_t priority = 0;
  std::string policy;  // "accept"
  bool operator==(const NftChain&) const = default;
};

/// One rule as read back: `rule` is set when the rule has exactly our shape (its table/chain are
/// the iptables names our chain stands for); foreign rules in our table are std::nullopt.
struct NftObservedRule {
  std::string chain;
  std::optional<Rule> rule;
};

struct NftTableState {
  bool present = false;
  std::vector<NftChain> chains;
  std::vector<NftObservedRule> rules;
};

/// Decodes `nft -j list table inet nodelocaldns` output (pure; unit-tested).
Result<NftTableState> decodeNftTable(std::string_view json);

/// True when `observed` is exactly what ensureNftRules() would write for `spec`.
bool nftTableMatches(const NftTableState& observed, const RuleSpec& spec);

/// Reads our table (absent → present = false).
Result<NftTableState> readNftTable();

/// See the contract. RulesReport: inserted = wanted rules that were missing, duplicates_removed =
/// extra or foreign rules in our table that the rewrite dropped, already_present = wanted rules
/// found, tables_rewritten = 1 when the transaction was sent.
Result<RulesReport> ensureNftRules(const RuleSpec& spec);

/// Deletes our table; RulesReport::removed = rules it held.
Result<RulesReport> removeNftRules();

/// Copies of each wanted rule in its chain of our table, in list order (all 0 when absent).
Result<std::vector<RuleStatus>> checkNftRules(const RuleSpec& spec);

/// A chain anywhere in the nftables ruleset (for backend detection).
struct NftChainId {
  std::string family;  // "ip", "ip6", "inet", ...
  std::string table;
  std::string name;
};

/// `list chains`: every chain of every table, without rules (tables without chains are not seen).
Result<std::vector<NftChainId>> listNftChains();

struct NftRuleCount {
  int64_t rules = 0;
  bool complete = false;  ///< false: counting stopped early, the table holds at least `rules`
};

/// Step 4b of backend detection (rules_backend.h): the rules in nftables table `family table`
/// (family "ip" or "ip6"), as `iptables-nft-save` would print them as `-A` lines, without the
/// rules that carry one of our comments (nft's `comment "..."` or iptables-nft's xt comment
/// match). An absent table holds 0. Read with one netlink rule dump of the table, not libnftables
/// (which would decode and print every rule); the dump stops once more than `stop_above` rules
/// were counted (complete = false). Errors: kUnsupported without nf_tables, kPermissionDenied
/// without CAP_NET_ADMIN.
Result<NftRuleCount> countNftTableRules(std::string_view family, std::string_view table,
                                        int64_t stop_above = INT64_MAX);

}  // namespace nld::netcfg
