// The nftables backend's text (nft_rules.h): our table and its rules exactly as `nft` prints
// them, for the dry run, `status` and the transaction. Pure.
#pragma once

#include <string>
#include <string_view>

#include "netcfg/rules/rule.h"
#include "netcfg/rules/rule_set.h"

namespace nld::netcfg {

inline constexpr std::string_view kNftFamily = "inet";
inline constexpr std::string_view kNftTable = "nodelocaldns";

/// Our base chain for an iptables (table, chain) pair: raw/PREROUTING → "raw-prerouting".
std::string nftChainName(const Rule& rule);

/// The rule as nft prints it (no chain), e.g.
/// `ip daddr 169.254.20.10 tcp dport 53 notrack comment "NodeLocal DNS Cache: skip conntrack"`.
std::string nftRuleText(const Rule& rule);

/// The table ensureNftRules() converges to, exactly as `nft list table inet nodelocaldns` prints
/// it (tabs, blank line between chains, trailing newline).
std::string nftTableText(const RuleSpec& spec);

/// The transaction ensureNftRules() sends: `add table`, `delete table`, then nftTableText().
std::string nftTransactionText(const RuleSpec& spec);

}  // namespace nld::netcfg
