// The backend choice: each call goes to the backend RulesOptions::backend names.
#include "netcfg/rules/rules.h"

#include "netcfg/rules/iptables/iptables_rules.h"
#include "netcfg/rules/nftables/nft_rules.h"

namespace nld::netcfg {

Result<RulesReport> ensureRules(const RuleSpec& spec, const RulesOptions& options) {
  if (options.backend == RulesBackend::kNftables) {
    return ensureNftRules(spec);
  }
  return ensureIptablesRules(spec, options);
}

Result<RulesReport> removeRules(const RuleSpec& spec, const RulesOptions& options) {
  if (options.backend == RulesBackend::kNftables) {
    return removeNftRules();
  }
  return removeIptablesRules(spec, options);
}

Result<std::vector<RuleStatus>> checkRules(const RuleSpec& spec, const RulesOptions& options) {
  if (options.backend == RulesBackend::kNftables) {
    return checkNftRules(spec);
  }
  return checkIptablesRules(spec, options);
}

std::vector<std::string> planRulesText(const RuleSpec& spec, RulesBackend backend) {
  if (backend == RulesBackend::kIptables) {
    return planRulesText(spec);
  }
  std::vector<std::string> lines = {"# nft -f - (one transaction: add, delete, then the table)"};
  std::string text = nftTableText(spec);
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

}  // namespace nld::netcfg
