// Rule ↔ x_tables entry bytes, for the part every family shares: the matches and the target that
// follow the ipt_entry / ip6t_entry header (the header itself is done per family in iptc4.cc /
// iptc6.cc). Internal to nld_netcfg_rules; no C header here.
//
// Encoding is byte-for-byte what iptables-legacy 1.8.9 builds for upstream's arguments (checked by
// reading binary-made entries back through libiptc): `tcp`/`udp` match rev 0 (the unset port is
// the range 0-65535), `comment` match rev 0 with its full zero-filled 256-byte buffer, NOTRACK as
// target `CT` rev 2 with flags XT_CT_NOTRACK|XT_CT_NOTRACK_ALIAS (=3; on older kernels the
// binary's fallbacks, see NotrackEncoding) and ACCEPT as the standard target (libiptc maps the
// "ACCEPT" label to the verdict). Decoding is semantic: it reads the
// fields and ignores padding and kernel-private bytes, so it also accepts the older encodings of
// the same rule (`NOTRACK` rev 0, `CT` rev 0/1 with the NOTRACK flag).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "netcfg/rules/rule.h"

namespace nld::netcfg::detail {

struct EncodedBody {
  std::vector<uint8_t> matches;  // zero or more xt_entry_match records, each XT_ALIGNed
  std::vector<uint8_t> target;   // one xt_entry_target record
};

/// How NOTRACK is stored. iptables-legacy's `-j NOTRACK` is an alias (libxt_CT.c) that resolves
/// to the newest of these the kernel supports: `CT` rev 2 flags NOTRACK|NOTRACK_ALIAS, `CT` rev 1
/// flags NOTRACK, `CT` rev 0 flags NOTRACK, and last the old `NOTRACK` target.
enum class NotrackEncoding : uint8_t { kCtRev2, kCtRev1, kCtRev0, kNotrackTarget };

/// Picks the encoding as the binary does; `has_target(name, revision)` asks the kernel.
NotrackEncoding chooseNotrackEncoding(bool (*has_target)(const char* name, uint8_t revision));

/// The matches and target of `rule` as the iptables binary encodes them.
EncodedBody encodeBody(const Rule& rule, NotrackEncoding notrack = NotrackEncoding::kCtRev2);

struct BodyFields {
  std::optional<uint16_t> source_port;
  std::optional<uint16_t> destination_port;
  RuleTarget target = RuleTarget::kAccept;
  std::string comment;
};

/// Decodes matches and target of an entry whose header says protocol `proto`. std::nullopt when
/// the entry is not of our shape (another match or target, inverted or ranged ports, TCP flags, a
/// truncated record...): such entries are foreign.
std::optional<BodyFields> decodeBody(std::span<const uint8_t> matches,
                                     std::span<const uint8_t> target, Proto proto);

/// IPPROTO_TCP / IPPROTO_UDP.
uint16_t ipProtoNumber(Proto proto) noexcept;
std::optional<Proto> protoFromNumber(uint16_t number) noexcept;

}  // namespace nld::netcfg::detail
