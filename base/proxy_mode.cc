#include "base/proxy_mode.h"

#include <string>

#include "base/strings.h"

namespace nld {

std::string_view toString(ProxyMode mode) {
  switch (mode) {
    case ProxyMode::kIptables:
      return "iptables";
    case ProxyMode::kIpvs:
      return "ipvs";
    case ProxyMode::kNftables:
      return "nftables";
  }
  return "iptables";
}

Result<ProxyMode> parseProxyMode(std::string_view text) {
  for (ProxyMode m : {ProxyMode::kIptables, ProxyMode::kIpvs, ProxyMode::kNftables}) {
    if (text == toString(m)) {
      return m;
    }
  }
  return fail(Errc::kInvalidArgument,
              "invalid kube-proxy mode " + quoted(text) + ": expected iptables, ipvs or nftables");
}

}  // namespace nld
