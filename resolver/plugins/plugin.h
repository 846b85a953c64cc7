// What a CoreDNS-style answering plugin (hosts, template) tells the serving core about a query:
// pass it on to the next plugin of the chain, the answer it wrote, or SERVFAIL (CoreDNS: the
// plugin returns dns.RcodeServerFailure and the server writes the error; nothing is cached).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace nld::resolver::dns {
struct Query;
}

namespace nld::resolver::plugins {

struct Outcome {
  enum class Kind : unsigned char { kNext, kAnswer, kServFail };
  Kind kind = Kind::kNext;
  size_t length = 0;  ///< kAnswer: bytes written to `out`

  static Outcome next() noexcept { return {}; }
  static Outcome answer(size_t len) noexcept { return {Kind::kAnswer, len}; }
  static Outcome servFail() noexcept { return {Kind::kServFail, 0}; }
};

/// Lower-cased wire forms of normalized zone names (invalid ones left out).
std::vector<std::vector<uint8_t>> wireZones(const std::vector<std::string>& zones);

/// Index of the longest of `zones` that `name` (lower-cased wire) is under, or -1.
int longestZone(const std::vector<std::vector<uint8_t>>& zones, const uint8_t* name,
                size_t length) noexcept;

/// Writes the header and question of an authoritative answer to `q` (parsed from `wire`): ID,
/// opcode, RD and CD copied, QR and AA set, RA clear (miekg/dns SetReply + Authoritative, as
/// CoreDNS's hosts and template reply), `rcode`, QDCOUNT 1, other counts 0.
/// @return the length (the end of the question), or 0 if `out` is too small.
size_t writeAnswerHead(const dns::Query& q, std::span<const uint8_t> wire, uint8_t rcode,
                       std::span<uint8_t> out) noexcept;

}  // namespace nld::resolver::plugins
