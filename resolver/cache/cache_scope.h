// CacheScope: which names a server block's cache acts for, and which answers it may store —
// CoreDNS plugin/cache's ZONES (`cache [TTL] [ZONES...]`) and `disable success|denial [ZONES...]`
// (CoreDNS >= 1.11).
//
// Semantics (CoreDNS cache.go / handler.go):
//  - A name under none of the cache's zones bypasses the cache entirely: no lookup, no insert, no
//    cache metrics; it goes straight to `forward`. No zones = every name the block serves.
//  - Under a `disable success` zone, NOERROR answers and delegations are not stored; under a
//    `disable denial` zone, NXDOMAIN, NODATA and SERVFAIL answers are not stored. Lookups still
//    happen (and count as cache requests/misses), as in CoreDNS.
//
// Built on the control thread from config strings; immutable afterwards, so any number of workers
// may call the const methods at once. The per-query methods are noexcept and allocation-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "resolver/dns/name.h"
#include "resolver/dns/rr_walk.h"

namespace nld::resolver::cache {

using dns::nameIsUnder;

class CacheScope {
 public:
  /// Everything cached, nothing disabled.
  CacheScope() = default;

  /// @param zones `cache` ZONES (empty: every name); the other two are the `disable` lists.
  /// Zones are FQDN text ("cluster.local." or "."). Fails (kInvalidArgument) on an invalid name.
  static Result<CacheScope> create(const std::vector<std::string>& zones,
                                   const std::vector<std::string>& success_disabled,
                                   const std::vector<std::string>& denial_disabled);

  /// Does the cache act for this lower-cased wire name at all?
  bool covers(const uint8_t* name, size_t name_length) const noexcept {
    return zones_.empty() || underAny(zones_, name, name_length);
  }
  /// May an answer of class `type` for this name be stored?
  bool mayStore(const uint8_t* name, size_t name_length, dns::ResponseType type) const noexcept;

  bool everything() const noexcept {
    return zones_.empty() && no_success_.empty() && no_denial_.empty();
  }

 private:
  using Zones = std::vector<std::vector<uint8_t>>;
  static bool underAny(const Zones& zones, const uint8_t* name, size_t name_length) noexcept;

  Zones zones_;
  Zones no_success_;
  Zones no_denial_;
};

}  // namespace nld::resolver::cache
