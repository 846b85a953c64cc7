// Which netfilter API holds nodelocaldns' rules: legacy x_tables through libiptc (rules/iptables/,
// as iptables-legacy) or our own nftables table (rules/nftables/). A node must never have both:
// the two run at separate hooks, and mixing confuses the iptables-wrapper and CNIs that detect the
// mode (users-and-perf items 13-14). Choosing `auto` is detect/rules_backend.h.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/result.h"

namespace nld::netcfg {

enum class RulesBackend : uint8_t { kIptables, kNftables };

/// "iptables" / "nftables".
std::string_view toString(RulesBackend backend) noexcept;

/// The backend that is not `backend` (where our rules must not also be).
constexpr RulesBackend otherBackend(RulesBackend backend) noexcept {
  return backend == RulesBackend::kNftables ? RulesBackend::kIptables : RulesBackend::kNftables;
}

/// "iptables" | "nftables"; anything else → kInvalidArgument
/// "invalid rules backend 'x': expected iptables or nftables".
Result<RulesBackend> parseRulesBackend(std::string_view text);

}  // namespace nld::netcfg
