// The upstream rule list (spec §4.1, cache_app.go:112-150) and the dry-run text.
#include "netcfg/rules/rule_set.h"

#include "netcfg/rules/rule_plan.h"

namespace nld::netcfg {

namespace {

enum class Side : uint8_t { kSource, kDestination };

Rule makeRule(const IpAddress& ip, const char* table, const char* chain, Proto proto, Side side,
              uint16_t port, RuleTarget target) {
  Rule r;
  r.family = ip.family();
  r.table = table;
  r.chain = chain;
  r.proto = proto;
  if (side == Side::kSource) {
    r.source = ip;
    r.source_port = port;
  } else {
    r.destination = ip;
    r.destination_port = port;
  }
  r.target = target;
  r.comment =
      std::string(target == RuleTarget::kNotrack ? kSkipConntrackComment : kAllowDnsComment);
  return r;
}

}  // namespace

std::vector<Rule> nodeLocalDnsRules(const RuleSpec& spec) {
  constexpr auto kTcp = Proto::kTcp;
  constexpr auto kUdp = Proto::kUdp;
  constexpr auto kSrc = Side::kSource;
  constexpr auto kDst = Side::kDestination;
  constexpr auto kNotrack = RuleTarget::kNotrack;
  constexpr auto kAccept = RuleTarget::kAccept;
  const uint16_t p = spec.dns_port;
  const uint16_t h = spec.health_port;
  std::vector<Rule> rules;
  rules.reserve(spec.local_ips.size() * 12);
  for (const IpAddress& l : spec.local_ips) {
    rules.push_back(makeRule(l, "raw", "PREROUTING", kTcp, kDst, p, kNotrack));  // 1
    rules.push_back(makeRule(l, "raw", "PREROUTING", kUdp, kDst, p, kNotrack));  // 2
    rules.push_back(makeRule(l, "filter", "INPUT", kTcp, kDst, p, kAccept));     // 3
    rules.push_back(makeRule(l, "filter", "INPUT", kUdp, kDst, p, kAccept));     // 4
    rules.push_back(makeRule(l, "raw", "OUTPUT", kTcp, kSrc, p, kNotrack));      // 5
    rules.push_back(makeRule(l, "raw", "OUTPUT", kUdp, kSrc, p, kNotrack));      // 6
    rules.push_back(makeRule(l, "filter", "OUTPUT", kTcp, kSrc, p, kAccept));    // 7
    rules.push_back(makeRule(l, "filter", "OUTPUT", kUdp, kSrc, p, kAccept));    // 8
    rules.push_back(makeRule(l, "raw", "OUTPUT", kTcp, kDst, p, kNotrack));      // 9
    rules.push_back(makeRule(l, "raw", "OUTPUT", kUdp, kDst, p, kNotrack));      // 10
    rules.push_back(makeRule(l, "raw", "OUTPUT", kTcp, kDst, h, kNotrack));      // 11
    rules.push_back(makeRule(l, "raw", "OUTPUT", kTcp, kSrc, h, kNotrack));      // 12
  }
  return rules;
}

std::vector<std::string> planRulesText(const RuleSpec& spec) {
  std::vector<std::string> lines;
  for (const TableRules& t : groupRules(nodeLocalDnsRules(spec))) {
    lines.push_back(std::string(t.family == Family::kV4 ? "# iptables" : "# ip6tables") + " -t " +
                    t.table);
    lines.push_back("*" + t.table);
    for (const ChainRules& c : t.chains) {
      for (const Rule& r : c.top_order) {
        lines.push_back(r.toSaveLine());
      }
    }
    lines.push_back("COMMIT");
  }
  return lines;
}

}  // namespace nld::netcfg
