// The node workflows' view of netcfg (mode detection, link, rules) and templates (Corefile): one
// narrow set of calls in netcfg's own enums (netcfg::ProxyMode, RulesBackend, LinkKind) and
// IpAddress, so install/teardown/status/stop read as a sequence of steps; strings only in what is
// printed. Each function is a thin adapter over the owning library; errors keep its message. No
// logging.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "base/ip.h"
#include "base/result.h"
#include "netcfg/netcfg.h"

namespace nld::cli {

using netcfg::LinkKind;
using netcfg::RulesBackend;

struct ModeInfo {
  netcfg::ProxyMode mode = netcfg::ProxyMode::kIptables;
  std::string
      signal;  // what decided it ("--mode", "kube-proxy /proxyMode", "kube-ipvs0 link", ...)
  bool operator==(const ModeInfo&) const = default;
};

struct BackendInfo {
  RulesBackend backend = RulesBackend::kIptables;
  std::string signal;  // what decided it ("--rules-backend nftables", a detection signal)
  bool operator==(const BackendInfo&) const = default;
};

/// `requested` = a mode given by flag (signal "--mode X"), nullopt = detect it (auto).
Result<ModeInfo> detectNodeMode(std::optional<netcfg::ProxyMode> requested,
                                const std::string& kube_proxy_addr);

struct NodeLink {
  std::string kind;  // dummy | bridge | other kind name
  bool up = false;
  std::vector<IpAddress> addresses;
};

struct NodeLinkChange {
  bool created = false;
  LinkKind kind = LinkKind::kDummy;
  std::string fallback_reason;   // why auto did not make a dummy link
  std::vector<IpAddress> added;  // addresses this call added
  bool brought_up = false;       // this call set the link up
};

Result<std::optional<NodeLink>> observeNodeLink(const std::string& name);
Result<NodeLinkChange> ensureNodeLink(const std::string& name, LinkKind kind,
                                      const std::vector<IpAddress>& addresses);
/// Undoes exactly `change` (rollback): deletes the link if it was created, else removes the
/// addresses it added and sets the link down again if it brought it up.
Result<void> revertNodeLink(const std::string& name, const NodeLinkChange& change);
/// true if the link existed and was removed.
Result<bool> removeNodeLink(const std::string& name);
/// Dry-run text of what ensureNodeLink would do.
std::string planNodeLinkText(const std::string& name, LinkKind kind,
                             const std::vector<IpAddress>& addresses,
                             const std::optional<NodeLink>& observed);

struct NodeRules {
  std::vector<IpAddress> ips;
  uint16_t dns_port = 53;
  uint16_t health_port = 8080;
  std::string lock_path;
  std::chrono::milliseconds lock_timeout{5000};
  RulesBackend backend = RulesBackend::kIptables;
  bool only_existing_tables = false;  // iptables: never create a legacy table (cleanup)
};

/// `requested` = a backend given by flag, nullopt = detect it (netcfg/rules_backend.h), using
/// `proxy_mode` when known.
BackendInfo detectNodeRulesBackend(std::optional<RulesBackend> requested,
                                   std::optional<netcfg::ProxyMode> proxy_mode);
/// The backend that is not `backend`.
RulesBackend otherRulesBackend(RulesBackend backend);

struct NodeRuleState {
  std::string line;     // iptables-save form with "-t table", or "<nft chain>: <nft rule>"
  std::string family;   // IPv4 | IPv6
  unsigned copies = 0;  // 0 = missing
};

/// Copies of all rules together, and how many distinct rules have at least one copy.
unsigned totalCopies(const std::vector<NodeRuleState>& states);
size_t rulesPresent(const std::vector<NodeRuleState>& states);
/// The same rules in the other backend, only in tables that exist (none is created): where ours
/// must not also be.
NodeRules otherBackendRules(const NodeRules& rules);

/// Installs the missing rules. Returns how many rules were added (0 = all were present).
Result<unsigned> ensureNodeRules(const NodeRules& rules);
/// Removes every copy of every rule (ours or upstream node-cache's).
Result<void> removeNodeRules(const NodeRules& rules);
Result<std::vector<NodeRuleState>> checkNodeRules(const NodeRules& rules);
/// The rules as iptables-save lines grouped by family and table, or the nft table.
std::string planNodeRulesText(const NodeRules& rules);

struct NodeCorefile {
  std::vector<IpAddress> local_ips;  // the template adds kube_dns to `bind` in iptables mode
  std::string domain;
  IpAddress cluster_dns;         // forward target of the cluster zone (iptables/nftables)
  std::string upstream_servers;  // "/etc/resolv.conf" or "IP IP ..."
  netcfg::ProxyMode mode = netcfg::ProxyMode::kIptables;
  IpAddress kube_dns;
};

/// The manifest's Corefile for this node (ports 53, health 8080, metrics 9253 as in upstream).
Result<std::string> renderNodeCorefile(const NodeCorefile& params);

}  // namespace nld::cli
