#include "cli/node/ops.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "netcfg/netcfg.h"
#include "templates/templates.h"

namespace nld::cli {
namespace {

netcfg::RuleSpec toSpec(const NodeRules& r) {
  return netcfg::RuleSpec{.local_ips = r.ips, .dns_port = r.dns_port, .health_port = r.health_port};
}

// Test hook (NLD_TEST_HOOKS=1, NLD_TEST_LOCK_TIMEOUT_MS=n): wait n ms for a held xtables lock
// instead of the real timeout, so the tests of a held lock do not wait out 5 s each.
std::chrono::milliseconds lockTimeout(std::chrono::milliseconds real) {
  const char* hooks = std::getenv("NLD_TEST_HOOKS");
  const char* ms = std::getenv("NLD_TEST_LOCK_TIMEOUT_MS");
  if (hooks == nullptr || ms == nullptr) {
    return real;
  }
  char* end = nullptr;
  long n = std::strtol(ms, &end, 10);
  return end != ms && *end == '\0' && n >= 0 ? std::chrono::milliseconds(n) : real;
}

netcfg::RulesOptions toOptions(const NodeRules& r) {
  netcfg::RulesOptions o;
  if (!r.lock_path.empty()) {
    o.lock_path = r.lock_path;
  }
  o.lock_timeout = lockTimeout(r.lock_timeout);
  o.backend = r.backend;
  o.only_existing_tables = r.only_existing_tables;
  return o;
}

netcfg::LinkSpec linkSpec(const std::string& name, LinkKind kind,
                          const std::vector<IpAddress>& addresses) {
  return netcfg::LinkSpec{.name = name, .kind = kind, .addresses = addresses};
}

}  // namespace

Result<ModeInfo> detectNodeMode(std::optional<netcfg::ProxyMode> requested,
                                const std::string& kube_proxy_addr) {
  if (requested) {
    return ModeInfo{*requested, "--mode " + std::string(toString(*requested))};
  }
  netcfg::ProxyModeOptions options;
  if (!kube_proxy_addr.empty()) {
    options.metrics_address = kube_proxy_addr;
  }
  auto d = netcfg::detectProxyMode(options);
  if (!d) {
    return fail(std::move(d.error()).withContext("detect kube-proxy mode"));
  }
  return ModeInfo{d->mode, d->signal};
}

BackendInfo detectNodeRulesBackend(std::optional<RulesBackend> requested,
                                   std::optional<netcfg::ProxyMode> proxy_mode) {
  if (requested) {
    return BackendInfo{*requested, "--rules-backend " + std::string(netcfg::toString(*requested))};
  }
  auto d = netcfg::detectRulesBackend(proxy_mode);
  return BackendInfo{d.backend, d.signal};
}

RulesBackend otherRulesBackend(RulesBackend backend) {
  return backend == RulesBackend::kNftables ? RulesBackend::kIptables : RulesBackend::kNftables;
}

unsigned totalCopies(const std::vector<NodeRuleState>& states) {
  unsigned n = 0;
  for (const auto& r : states) {
    n += r.copies;
  }
  return n;
}

size_t rulesPresent(const std::vector<NodeRuleState>& states) {
  return static_cast<size_t>(std::count_if(states.begin(), states.end(),
                                           [](const NodeRuleState& r) { return r.copies > 0; }));
}

NodeRules otherBackendRules(const NodeRules& rules) {
  NodeRules other = rules;
  other.backend = otherRulesBackend(rules.backend);
  other.only_existing_tables = true;
  return other;
}

Result<std::optional<NodeLink>> observeNodeLink(const std::string& name) {
  auto s = netcfg::observeLink(name);
  if (!s) {
    return fail(std::move(s.error()));
  }
  if (!*s) {
    return std::optional<NodeLink>();
  }
  NodeLink link;
  link.kind = (*s)->kind;
  link.up = (*s)->up;
  for (const IpPrefix& p : (*s)->addresses) {
    link.addresses.push_back(p.address);
  }
  return std::optional<NodeLink>(std::move(link));
}

Result<NodeLinkChange> ensureNodeLink(const std::string& name, LinkKind kind,
                                      const std::vector<IpAddress>& addresses) {
  auto r = netcfg::ensureLink(linkSpec(name, kind, addresses));
  if (!r) {
    return fail(std::move(r.error()));
  }
  NodeLinkChange c;
  c.created = r->created;
  c.kind = r->kind;
  c.fallback_reason = r->fallback_reason;
  for (const IpPrefix& p : r->added) {
    c.added.push_back(p.address);
  }
  c.brought_up = r->brought_up;
  return c;
}

Result<void> revertNodeLink(const std::string& name, const NodeLinkChange& change) {
  netcfg::LinkReport report;
  report.created = change.created;
  report.brought_up = change.brought_up;
  for (const IpAddress& a : change.added) {
    report.added.push_back(IpPrefix::host(a));
  }
  return netcfg::revertLink(name, report);
}

Result<bool> removeNodeLink(const std::string& name) { return netcfg::removeLink(name); }

std::string planNodeLinkText(const std::string& name, LinkKind kind,
                             const std::vector<IpAddress>& addresses,
                             const std::optional<NodeLink>& observed) {
  std::optional<netcfg::LinkState> state;
  if (observed) {
    state.emplace();
    state->kind = observed->kind;
    state->up = observed->up;
    for (const IpAddress& a : observed->addresses) {
      state->addresses.push_back(IpPrefix::host(a));
    }
  }
  std::string out;
  for (const std::string& line : netcfg::planLinkText(linkSpec(name, kind, addresses), state)) {
    out += line + "\n";
  }
  return out;
}

Result<unsigned> ensureNodeRules(const NodeRules& rules) {
  auto r = netcfg::ensureRules(toSpec(rules), toOptions(rules));
  if (!r) {
    return fail(std::move(r.error()));
  }
  return static_cast<unsigned>(r->inserted);
}

Result<void> removeNodeRules(const NodeRules& rules) {
  auto r = netcfg::removeRules(toSpec(rules), toOptions(rules));
  if (!r) {
    return fail(std::move(r.error()));
  }
  return {};
}

Result<std::vector<NodeRuleState>> checkNodeRules(const NodeRules& rules) {
  auto r = netcfg::checkRules(toSpec(rules), toOptions(rules));
  if (!r) {
    return fail(std::move(r.error()));
  }
  std::vector<NodeRuleState> out;
  for (const auto& s : *r) {
    std::string line = rules.backend == RulesBackend::kNftables
                           ? netcfg::nftChainName(s.rule) + ": " + netcfg::nftRuleText(s.rule)
                           : "-t " + s.rule.table + " " + s.rule.toSaveLine();
    out.push_back(
        {std::move(line), std::string(familyName(s.rule.family)), static_cast<unsigned>(s.copies)});
  }
  return out;
}

std::string planNodeRulesText(const NodeRules& rules) {
  std::string out;
  for (const std::string& line : netcfg::planRulesText(toSpec(rules), rules.backend)) {
    out += line + "\n";
  }
  return out;
}

namespace {
// templates keeps its own substitution-mode type (it does not depend on netcfg).
templates::ProxyMode substitutionMode(netcfg::ProxyMode mode) noexcept {
  switch (mode) {
    case netcfg::ProxyMode::kIpvs:
      return templates::ProxyMode::kIpvs;
    case netcfg::ProxyMode::kNftables:
      return templates::ProxyMode::kNftables;
    case netcfg::ProxyMode::kIptables:
      break;
  }
  return templates::ProxyMode::kIptables;
}
}  // namespace

Result<std::string> renderNodeCorefile(const NodeCorefile& p) {
  templates::CorefileParams params;
  params.local_ips = p.local_ips;
  params.domain = p.domain;
  params.cluster_dns = p.cluster_dns;
  params.upstream_servers = p.upstream_servers;
  params.mode = substitutionMode(p.mode);
  params.kube_dns = p.kube_dns;
  return templates::renderCorefile(params);
}

}  // namespace nld::cli
