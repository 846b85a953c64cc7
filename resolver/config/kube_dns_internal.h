// kube-dns ConfigMap validation pieces shared by kube_dns.cc and substitution.cc.
// Internal to nld_resolver_config.
#pragma once

#include <string>
#include <string_view>

#include "base/ip.h"
#include "base/result.h"
#include "resolver/config/config.h"

namespace nld::resolver::config::detail {

/// Kubernetes validation.IsDNS1123Subdomain.
bool isDns1123Subdomain(std::string_view s);
/// Why a stub domain cannot become a Corefile server block (the Corefile parser's rules: at
/// most 63 octets per label, which IsDNS1123Subdomain does not check), "" if it can.
std::string stubDomainProblem(std::string_view domain);
/// "kube-dns ConfigMap key 'K'", with " ('DIR/K')" when the directory is known: how every
/// ConfigMap error starts, so the log names the ConfigMap, the key and the file holding it.
std::string keyContext(std::string_view key, std::string_view dir);
/// "ip", "ip:port", "[v6]:port" (IPv6 zone stripped); port 53 by default.
Result<SocketAddress> parseNameserver(std::string_view text);
/// kube-dns Validate() + node-cache ValidateNodeLocalCacheConfig(), plus what the Corefile
/// parser will require of the blocks rendered from it. `dir`: see keyContext().
Result<void> validateKubeDnsConfig(const KubeDnsConfig& c, std::string_view dir = "");

}  // namespace nld::resolver::config::detail
