// kube-proxy's mode: the one enum shared by netcfg (detection, rules) and templates (rendering),
// which must not depend on each other. Both re-export it as their own `ProxyMode`.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/result.h"

namespace nld {

enum class ProxyMode : uint8_t { kIptables, kIpvs, kNftables };

/// "iptables", "ipvs", "nftables".
std::string_view toString(ProxyMode mode);
/// Parses "iptables|ipvs|nftables" (exact, lower case); anything else → kInvalidArgument naming
/// the value on one line: "invalid kube-proxy mode 'x': expected iptables, ipvs or nftables".
Result<ProxyMode> parseProxyMode(std::string_view text);

}  // namespace nld
