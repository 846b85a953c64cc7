// CacheKey: what makes two questions share a cached answer — the lower-cased wire name, QTYPE,
// QCLASS, and the client's DO and CD bits (CoreDNS plugin/cache hash(): DO, CD, qtype, qname; we
// add qclass so CH/HS questions never meet IN answers).
//
// A key is a fixed-size value (no allocation), built once per query; its hash is seeded per
// process, so hash collisions cannot be precomputed by clients (and a collision only costs a miss:
// the cache compares the full key). noexcept, thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "resolver/dns/message.h"
#include "resolver/dns/types.h"

namespace nld::resolver::cache {

struct CacheKey {
  std::array<uint8_t, dns::kMaxNameLength> name;  ///< lower-cased, uncompressed wire name
  uint8_t name_length = 0;                        ///< 1..255 (the root is 1)
  bool do_bit = false;
  bool cd = false;
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  uint64_t hash = 0;

  std::span<const uint8_t> nameWire() const noexcept { return {name.data(), name_length}; }

  friend bool operator==(const CacheKey& a, const CacheKey& b) noexcept {
    return a.hash == b.hash && a.name_length == b.name_length && a.qtype == b.qtype &&
           a.qclass == b.qclass && a.do_bit == b.do_bit && a.cd == b.cd &&
           std::memcmp(a.name.data(), b.name.data(), a.name_length) == 0;
  }
};

/// The key for a parsed query (`wire` is the bytes `query` was parsed from): its question, its DO
/// bit and its CD bit. @return std::nullopt only if the question name cannot be read (not for a
/// query that passed parseQuery()).
std::optional<CacheKey> makeKey(const dns::Query& query, std::span<const uint8_t> wire) noexcept;

/// The key for an explicit question (tests, prefetch/refresh of a known name).
/// @param name_wire uncompressed wire name (any case). @return std::nullopt if it is invalid.
std::optional<CacheKey> makeKey(std::span<const uint8_t> name_wire, uint16_t qtype, uint16_t qclass,
                                bool do_bit, bool cd) noexcept;

}  // namespace nld::resolver::cache
