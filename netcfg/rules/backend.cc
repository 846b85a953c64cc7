#include "netcfg/rules/backend.h"

#include <string>

namespace nld::netcfg {

std::string_view toString(RulesBackend backend) noexcept {
  return backend == RulesBackend::kNftables ? "nftables" : "iptables";
}

Result<RulesBackend> parseRulesBackend(std::string_view text) {
  if (text == "iptables") {
    return RulesBackend::kIptables;
  }
  if (text == "nftables") {
    return RulesBackend::kNftables;
  }
  return fail(Errc::kInvalidArgument,
              "invalid rules backend '" + std::string(text) + "': expected iptables or nftables");
}

}  // namespace nld::netcfg
