// Rule: one iptables rule of the kind nodelocaldns installs, as a value.
//
// A Rule is the semantic form of an entry: family, table, chain, protocol, host source/destination,
// single source/destination port, target (NOTRACK or ACCEPT) and comment. Two rules are the same
// rule when these fields are equal; how the kernel blob pads or orders them does not matter (the
// codec decodes blobs into Rules, see rule_codec.h). Pure value type: no I/O, no C headers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip.h"

namespace nld::netcfg {

enum class Proto : uint8_t { kTcp, kUdp };
enum class RuleTarget : uint8_t { kNotrack, kAccept };

std::string_view protoName(Proto p) noexcept;        // "tcp" / "udp"
std::string_view targetName(RuleTarget t) noexcept;  // "NOTRACK" / "ACCEPT"

inline constexpr std::string_view kSkipConntrackComment = "NodeLocal DNS Cache: skip conntrack";
inline constexpr std::string_view kAllowDnsComment = "NodeLocal DNS Cache: allow DNS traffic";

/// True for the comment of one of our rules (ours or the upstream agent's: the same two texts).
inline bool isOurComment(std::string_view comment) noexcept {
  return comment == kSkipConntrackComment || comment == kAllowDnsComment;
}

struct Rule {
  Family family = Family::kV4;
  std::string table;  // "raw" or "filter"
  std::string chain;  // "PREROUTING", "INPUT", "OUTPUT"
  Proto proto = Proto::kTcp;
  std::optional<IpAddress> source;       // host address (/32 or /128), if matched
  std::optional<IpAddress> destination;  // host address (/32 or /128), if matched
  std::optional<uint16_t> source_port;
  std::optional<uint16_t> destination_port;
  RuleTarget target = RuleTarget::kAccept;
  std::string comment;

  /// The line `iptables-legacy-save` / `ip6tables-legacy-save` prints for this rule, e.g.
  /// `-A PREROUTING -d 169.254.20.10/32 -p udp -m udp --dport 53 -m comment --comment
  /// "NodeLocal DNS Cache: skip conntrack" -j NOTRACK`.
  std::string toSaveLine() const;

  /// Upstream node-cache's argument string (spec §4.1), e.g.
  /// `-p udp -d 169.254.20.10 --dport 53 -j NOTRACK -m comment --comment "NodeLocal DNS ..."`.
  /// The comment is double-quoted so the string can be pasted into a shell.
  std::string toArgs() const;

  /// The same arguments as an argv vector (the comment is one element, unquoted).
  std::vector<std::string> toArgv() const;

  /// "IPv4 raw PREROUTING" style label for messages.
  std::string where() const;

  bool operator==(const Rule&) const = default;
};

}  // namespace nld::netcfg
