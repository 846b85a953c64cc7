// Responses: a fully validated walk over every RR (inspectResponse), CoreDNS's response
// classification and minimal-TTL rule, and in-place TTL rewriting.
//
// Used by the forwarder (accept an upstream answer or not) and the cache (what to store and for
// how long). All functions are noexcept, allocation-free and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "resolver/dns/types.h"

namespace nld::resolver::dns {

/// CoreDNS's response.Typify classes (plugin/pkg/response/typify.go), which the cache keys on.
enum class ResponseType : uint8_t {
  kNoError,      ///< NOERROR with answers (or empty without SOA/NS): success cache
  kNameError,    ///< NXDOMAIN with an SOA in authority: denial cache
  kNoData,       ///< NOERROR, no answers, SOA in authority: denial cache
  kDelegation,   ///< NOERROR, no answers, NS in authority (no SOA): success cache
  kServerError,  ///< SERVFAIL: cached for the servfail duration only
  kOtherError,   ///< every other rcode, and NXDOMAIN without SOA: never cached
  kMeta,         ///< AXFR/IXFR question, NOTIFY, UPDATE: never cached
};

const char* responseTypeName(ResponseType t) noexcept;

struct ResponseInfo {
  uint16_t id = 0;
  uint16_t flags = 0;
  Rcode rcode = Rcode::kNoError;  ///< including the OPT extended-rcode bits
  bool tc = false;
  bool aa = false;
  bool ad = false;
  bool ra = false;
  uint16_t qdcount = 0;
  uint16_t ancount = 0;
  uint16_t nscount = 0;
  uint16_t arcount = 0;
  uint16_t qtype = 0;  ///< 0 when qdcount == 0
  uint16_t qclass = 0;
  uint16_t question_end = 0;  ///< section boundaries (offsets into the message)
  uint16_t answer_end = 0;
  uint16_t authority_end = 0;
  uint16_t end = 0;                    ///< == message size (trailing bytes are rejected)
  uint16_t rr_count = 0;               ///< RRs other than OPT (== TTL fields the cache rewrites)
  std::optional<uint16_t> opt_offset;  ///< the OPT RR, if any
  uint16_t opt_length = 0;
  bool opt_last = false;               ///< OPT is the last RR of the message
  uint16_t additional_before_opt = 0;  ///< additional RRs before the OPT (== arcount without OPT)
  bool has_tsig = false;
  bool has_soa = false;           ///< an SOA in the authority section
  uint32_t min_ttl = UINT32_MAX;  ///< smallest TTL of the non-OPT RRs (UINT32_MAX: none)
  /// CoreDNS's msgTTL in seconds (dnsutil.MinimalTTL): min over answer+authority+additional
  /// (OPT excluded) capped at 3600; 5 for empty messages and for types other than NoError,
  /// NameError, NoData. For NameError/NoData an SOA contributes min(its TTL, its MINIMUM)
  /// (RFC 2308 §5; CoreDNS takes the SOA's TTL, which RFC 2308 servers already set so).
  uint32_t msg_ttl = 0;
  ResponseType type = ResponseType::kOtherError;

  bool isNxDomain() const noexcept { return type == ResponseType::kNameError; }
  bool isNoData() const noexcept { return type == ResponseType::kNoData; }
};

/// Validates a whole response: QR set, qdcount ≤ 1, every name and RR in bounds, at most one OPT
/// (in the additional section), no trailing bytes.
/// @return what the cache and forwarder need, or std::nullopt if anything is malformed.
std::optional<ResponseInfo> inspectResponse(std::span<const uint8_t> wire) noexcept;

/// Sets the TTL of every RR except OPT. The message must have passed inspectResponse().
/// @return the number of TTLs written.
size_t rewriteTtls(std::span<uint8_t> wire, uint32_t ttl) noexcept;

/// Collects the offsets of the TTL field of every RR except OPT, in message order, so a stored copy
/// can be rewritten without walking it again. The message must have passed inspectResponse().
/// @return the number of offsets, or std::nullopt if `out` is too small.
std::optional<size_t> collectTtlOffsets(std::span<const uint8_t> wire,
                                        std::span<uint16_t> out) noexcept;

}  // namespace nld::resolver::dns
