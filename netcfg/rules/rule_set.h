// The rules nodelocaldns installs, whichever backend holds them: the 12 upstream node-cache
// rules per local address (spec §4.1) as values, the options and report types both backends
// share, and the iptables-save dry-run text. Pure: no I/O, no C headers.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "base/ip.h"
#include "netcfg/rules/backend.h"
#include "netcfg/rules/rule.h"

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

struct RulesReport {
  int inserted = 0;
  int duplicates_removed = 0;
  int already_present = 0;
  int removed = 0;
  int tables_rewritten = 0;  // nftables: 1 when the table was (re)written
};

struct RuleStatus {
  Rule rule;
  int copies = 0;
};

}  // namespace nld::netcfg
