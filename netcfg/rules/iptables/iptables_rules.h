// The libiptc backend of rules/rules.h (whose contract it implements for RulesBackend::kIptables),
// and the legacy x_tables reads that backend detection needs. Internal to netcfg: callers use
// rules/rules.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/ip.h"
#include "base/result.h"
#include "netcfg/rules/rule_set.h"

namespace nld::netcfg {

/// ensureRules() / removeRules() / checkRules() for the iptables backend.
Result<RulesReport> ensureIptablesRules(const RuleSpec& spec, const RulesOptions& options);
Result<RulesReport> removeIptablesRules(const RuleSpec& spec, const RulesOptions& options);
Result<std::vector<RuleStatus>> checkIptablesRules(const RuleSpec& spec,
                                                   const RulesOptions& options);

/// True when the legacy x_tables `table` of `family` exists (listed in /proc/net/ip_tables_names
/// or ip6_tables_names) and has a chain named `chain`. Never creates the table. Read-only.
Result<bool> legacyChainExists(Family family, const std::string& table, const std::string& chain);

/// Step 4b of backend detection (rules_backend.h): the rules in the legacy x_tables that exist
/// (every table in /proc/net/ip_tables_names and ip6_tables_names, every chain), as
/// `iptables-legacy-save` + `ip6tables-legacy-save` print them as `-A` lines, without the rules
/// that carry one of our comments (ours or the upstream agent's). Never creates a table. Read-only,
/// no lock (like iptables-save: the kernel hands out a consistent snapshot per table).
Result<int64_t> countLegacyRules();

}  // namespace nld::netcfg
