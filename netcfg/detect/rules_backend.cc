#include "netcfg/detect/rules_backend.h"

#include <utility>
#include <vector>

#include "base/strings.h"
#include "netcfg/rules/iptables/iptables_rules.h"
#include "netcfg/rules/nftables/nft_rules.h"

namespace nld::netcfg {

namespace {

constexpr const char* kHintChains[] = {"KUBE-IPTABLES-HINT", "KUBE-KUBELET-CANARY"};
// The tables iptables-nft makes in families ip and ip6 (iptables-nft-save lists these).
constexpr const char* kIptablesTables[] = {"filter", "nat", "mangle", "raw", "security"};

using NftTables = std::vector<std::pair<const char*, const char*>>;

// Step 4b's counts: legacy first, then the iptables-nft tables in `nft_tables` only until they
// pass legacy. What could not be counted is added to `*uncounted`.
RuleCounts countRules(const NftTables& nft_tables, std::vector<std::string>* uncounted) {
  RuleCounts counts;
  if (auto legacy = countLegacyRules()) {
    counts.legacy = *legacy;
  } else {
    uncounted->push_back("legacy rules not counted (" + legacy.error().message() + ")");
  }
  for (size_t i = 0; i < nft_tables.size(); ++i) {
    auto [family, table] = nft_tables[i];
    auto n = countNftTableRules(family, table, counts.legacy - counts.iptables_nft);
    if (!n) {
      uncounted->push_back("iptables-nft rules not counted (" + n.error().message() + ")");
      break;
    }
    counts.iptables_nft += n->rules;
    if (counts.iptables_nft > counts.legacy) {
      // The answer is nftables whatever the rest holds: stop reading.
      counts.iptables_nft_partial = !n->complete || i + 1 < nft_tables.size();
      break;
    }
  }
  return counts;
}

}  // namespace

std::optional<RulesBackend> backendByRuleCounts(const RuleCounts& counts) noexcept {
  if (counts.iptables_nft > counts.legacy) {
    return RulesBackend::kNftables;
  }
  if (counts.legacy > counts.iptables_nft) {
    return RulesBackend::kIptables;
  }
  return std::nullopt;
}

std::string ruleCountsText(const RuleCounts& counts) {
  return std::string("rule counts: ") + (counts.iptables_nft_partial ? "at least " : "") +
         std::to_string(counts.iptables_nft) + " iptables-nft vs " + std::to_string(counts.legacy) +
         " legacy";
}

RulesBackendDetection detectRulesBackend(std::optional<ProxyMode> proxy_mode) {
  using enum RulesBackend;
  std::vector<std::string> absent;

  auto chains = listNftChains();
  if (!chains) {
    absent.push_back("nftables not readable (" + chains.error().message() + ")");
  }
  auto hasNft = [&](std::string_view family, std::string_view table, std::string_view name) {
    if (!chains) {
      return false;
    }
    for (const NftChainId& c : *chains) {
      // An empty `name` asks for any chain of the table.
      if (c.family == family && c.table == table && (name.empty() || c.name == name)) {
        return true;
      }
    }
    return false;
  };

  // 1. kube-proxy's mode.
  if (proxy_mode) {
    if (*proxy_mode == ProxyMode::kNftables) {
      return {kNftables, "kube-proxy mode is nftables"};
    }
    absent.push_back("kube-proxy mode is " + std::string(toString(*proxy_mode)));
  } else {
    for (const char* family : {"ip", "ip6"}) {
      if (hasNft(family, "kube-proxy", "")) {
        return {kNftables, "nftables table '" + std::string(family) +
                               " kube-proxy' exists (kube-proxy nftables mode)"};
      }
    }
    if (chains) {
      absent.push_back("no nftables table 'ip kube-proxy'");
    }
  }

  // 2. iptables-nft's hint chains.
  for (const char* family : {"ip", "ip6"}) {
    for (const char* chain : kHintChains) {
      if (hasNft(family, "mangle", chain)) {
        return {kNftables, "chain " + std::string(chain) + " in nftables table '" + family +
                               " mangle' (iptables-nft)"};
      }
    }
  }
  if (chains) {
    absent.push_back("no KUBE-IPTABLES-HINT/KUBE-KUBELET-CANARY in nftables mangle");
  }

  // 3. the same chains in legacy x_tables.
  bool legacy_error = false;
  for (Family family : {Family::kV4, Family::kV6}) {
    for (const char* chain : kHintChains) {
      auto found = legacyChainExists(family, "mangle", chain);
      if (found && *found) {
        return {kIptables, "chain " + std::string(chain) + " in legacy " +
                               (family == Family::kV4 ? "iptables" : "ip6tables") +
                               " table 'mangle' (iptables-legacy)"};
      }
      if (!found && !legacy_error) {
        legacy_error = true;
        absent.push_back("legacy mangle not readable (" + found.error().message() + ")");
      }
    }
  }
  if (!legacy_error) {
    absent.push_back("none in legacy mangle");
  }

  // 4. our own table.
  if (hasNft(kNftFamily, kNftTable, "")) {
    return {kNftables, "table 'inet nodelocaldns' exists (kept from an earlier run)"};
  }

  // 4b. rule counts, ours left out. Only existing tables are read (`list chains` above names
  // them; a table without chains holds no rules).
  NftTables nft_tables;
  for (const char* family : {"ip", "ip6"}) {
    for (const char* table : kIptablesTables) {
      if (hasNft(family, table, "")) {
        nft_tables.emplace_back(family, table);
      }
    }
  }
  std::vector<std::string> uncounted;
  RuleCounts counts = countRules(nft_tables, &uncounted);
  std::string note = uncounted.empty() ? "" : " (" + join(uncounted, "; ") + ")";
  // Counts decide only when both sides were read: a side that could not be counted would read
  // as 0 and hand the choice to the other, and a choice by counts is not revisited (run keeps
  // our rules where counts put them). Without them: the default, detected again next sync.
  if (auto b = uncounted.empty() ? backendByRuleCounts(counts) : std::nullopt) {
    RulesBackendDetection d{*b, ruleCountsText(counts)};
    d.by_rule_count = true;
    return d;
  }
  absent.push_back(!uncounted.empty()   ? "rule counts not used" + note
                   : counts.legacy == 0 ? "no rules in iptables-nft or legacy tables"
                                        : ruleCountsText(counts) + ", a tie");
  return {kIptables, "default: no signal (" + join(absent, "; ") + ")", /*by_default=*/true};
}

}  // namespace nld::netcfg
