// Queries: header accessors on raw bytes and parseQuery(), the one validating pass over a
// client's query (RFC 1035 §4.1, RFC 6891 EDNS0).
//
// The server applies the result like this: parse OK → serve; ParseError with headerReadable() →
// answer with buildErrorResponse(wire, errorRcode(error), out) (FORMERR, NOTIMP or BADVERS);
// header unreadable (< 12 bytes) or QR set → drop silently (never answer a response: reflection
// loops). All functions are noexcept, allocation-free and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <tl/expected.hpp>

#include "resolver/dns/types.h"

namespace nld::resolver::dns {

enum class ParseError : uint8_t {
  kTooShort,        ///< fewer than 12 bytes: drop
  kNotQuery,        ///< QR bit set (a response): drop
  kNotImplemented,  ///< opcode other than QUERY: NOTIMP
  kBadQdcount,      ///< QDCOUNT != 1: FORMERR
  kBadName,         ///< invalid question name (length, label type, pointer): FORMERR
  kTruncated,       ///< a section ends early: FORMERR
  kBadRr,           ///< an RR in answer/authority/additional is malformed: FORMERR
  kBadOpt,          ///< OPT not root-owned, more than one OPT, bad option layout: FORMERR
  kBadVersion,      ///< EDNS version != 0: BADVERS (RFC 6891 §6.1.3)
  kTrailing,        ///< bytes after the last RR: FORMERR
};

const char* parseErrorName(ParseError e) noexcept;

/// EDNS0 data of a query's OPT RR.
struct Edns {
  uint16_t udp_size = 0;  ///< as sent by the client (may be < 512; see Query::udpLimit())
  uint8_t version = 0;
  bool do_bit = false;
  uint16_t opt_offset = 0;  ///< start of the OPT RR in the query
  uint16_t rdlength = 0;
};

/// A validated query. Offsets point into the wire it was parsed from.
struct Query {
  uint16_t id = 0;
  uint16_t flags = 0;
  Opcode opcode = Opcode::kQuery;
  uint16_t qname_offset = static_cast<uint16_t>(kHeaderSize);  ///< always 12 for a query
  uint16_t qname_length = 0;  ///< uncompressed = in-place length (a query's first name can't point)
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  uint16_t question_end = 0;  ///< offset just after QTYPE/QCLASS
  uint16_t ancount = 0;
  uint16_t nscount = 0;
  uint16_t arcount = 0;
  std::optional<Edns> edns;
  bool rd = false;
  bool cd = false;
  bool ad = false;

  bool doBit() const noexcept { return edns && edns->do_bit; }
  /// Largest UDP answer this client accepts: 512 without EDNS, else max(512, its size).
  size_t udpLimit() const noexcept {
    return edns ? (edns->udp_size < kMaxUdpPayloadDefault ? kMaxUdpPayloadDefault : edns->udp_size)
                : kMaxUdpPayloadDefault;
  }
};

/// Validates a query completely: header, exactly one question, every RR in the other sections
/// (names, lengths), at most one OPT (root owner, well-formed options), no trailing bytes.
/// @return the parsed query or why it is malformed.
tl::expected<Query, ParseError> parseQuery(std::span<const uint8_t> wire) noexcept;

/// The OPT RR of a message that may not be valid (a query we answer with FORMERR, NOTIMP or
/// BADVERS): the first RR of type OPT found walking the sections in order until the first
/// unreadable byte, wherever it is and however many there are. Its udp_size, version, DO bit and
/// offset are filled in. @return std::nullopt when no readable OPT RR precedes the first error.
std::optional<Edns> findEdns(std::span<const uint8_t> wire) noexcept;

/// The rcode to answer a malformed query with. Meaningful only when shouldAnswer(e).
Rcode errorRcode(ParseError e) noexcept;
/// False for errors that must be dropped silently (no header, or a response).
bool shouldAnswer(ParseError e) noexcept;

/// At least a full header (a FORMERR can echo the ID).
inline bool headerReadable(std::span<const uint8_t> wire) noexcept {
  return wire.size() >= kHeaderSize;
}

// Header accessors on bytes already known to hold a header (callers check headerReadable()).
inline uint16_t headerId(std::span<const uint8_t> w) noexcept { return readU16(w.data()); }
inline uint16_t headerFlags(std::span<const uint8_t> w) noexcept { return readU16(w.data() + 2); }
inline uint16_t headerCount(std::span<const uint8_t> w, size_t field) noexcept {
  return readU16(w.data() + field);
}
inline Rcode headerRcode(std::span<const uint8_t> w) noexcept {
  return static_cast<Rcode>(headerFlags(w) & flag::kRcodeMask);
}

/// Sets the message ID (no-op if the span is shorter than a header).
inline void setId(std::span<uint8_t> wire, uint16_t id) noexcept {
  if (wire.size() >= kHeaderSize) {
    writeU16(wire.data(), id);
  }
}

/// True if both messages have exactly one question with the same name (case-insensitive), type
/// and class. The forwarder uses it to reject spoofed or mismatched answers.
bool sameQuestion(std::span<const uint8_t> query, std::span<const uint8_t> response) noexcept;

}  // namespace nld::resolver::dns
