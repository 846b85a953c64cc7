// The placeholder vocabulary of node-cache's manifest and Corefile (`__PILLAR__…`), in one home:
// templates/ fills the install-time ones (render-manifest, the task page's sed), resolver/config
// fills the run-time ones (node-cache's own substitution at start-up and on every reload). Both
// depend only on base, so the names live here.
#pragma once

#include <string_view>

namespace nld::placeholder {

/// Every placeholder starts with this.
inline constexpr std::string_view kPrefix = "__PILLAR__";
/// The node-local address(es): filled at install time (render-manifest) and, as
/// `__PILLAR__LOCAL__DNS__` left in a Corefile, at run time.
inline constexpr std::string_view kLocalDns = "__PILLAR__LOCAL__DNS__";
/// The cluster domain (install time).
inline constexpr std::string_view kDnsDomain = "__PILLAR__DNS__DOMAIN__";
/// The kube-dns Service IP (install time outside ipvs; emptied at run time in ipvs mode).
inline constexpr std::string_view kDnsServer = "__PILLAR__DNS__SERVER__";
/// The kube-dns-upstream Service IP (run time, from -upstreamsvc).
inline constexpr std::string_view kClusterDns = "__PILLAR__CLUSTER__DNS__";
/// The node's resolvers (run time: /etc/resolv.conf, or the ConfigMap's upstreamNameservers).
inline constexpr std::string_view kUpstreamServers = "__PILLAR__UPSTREAM__SERVERS__";

}  // namespace nld::placeholder
