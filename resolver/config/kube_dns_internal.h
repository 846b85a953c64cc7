// kube-dns ConfigMap validation pieces shared by kube_dns.cc and substitution.cc.
// Internal to nld_resolver_config.
#pragma once

#include <string_view>

#include "base/ip.h"
#include "base/result.h"
#include "resolver/config/config.h"

namespace nld::resolver::config::detail {

/// Kubernetes validation.IsDNS1123Subdomain.
bool isDns1123Subdomain(std::string_view s);
/// "ip", "ip:port", "[v6]:port" (IPv6 zone stripped); port 53 by default.
Result<SocketAddress> parseNameserver(std::string_view text);
/// kube-dns Validate() + node-cache ValidateNodeLocalCacheConfig().
Result<void> validateKubeDnsConfig(const KubeDnsConfig& c);

}  // namespace nld::resolver::config::detail
