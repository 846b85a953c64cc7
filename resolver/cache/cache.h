// Cache: the shared answer cache of one server block — CoreDNS plugin/cache semantics (spec §6)
// on wire bytes, sharded, bounded by entries AND bytes, with virtual time passed in by the caller.
//
// Semantics (CoreDNS cache.go / item.go / handler.go unless noted):
//  - Classes: NOERROR answers and delegations → success; NXDOMAIN (with SOA) and NODATA → denial;
//    SERVFAIL → denial list with the servfail duration. Never stored: TC answers, other rcodes
//    (REFUSED, FORMERR, NOTIMP, ...), AXFR/IXFR/NOTIFY/UPDATE, answers whose question differs from
//    the key, answers with TSIG. (CoreDNS caches NOTIMP like SERVFAIL; we do not: issue 4.)
//  - Stored duration = clamp(msgTTL, min, max) of the class (servfail: its own duration); every
//    TTL in the stored copy is set to it; a hit answers TTL = duration − whole seconds elapsed.
//    `keep_ttl` keeps the upstream TTLs untouched instead (CoreDNS `keepttl`).
//  - Hits set AA; AD only if the stored answer had it and the query had DO or AD; RA from the
//    stored answer; ID, RD, CD and the question (client's casing) from the query; an OPT RR (our
//    UDP size, the client's DO) iff the query had one. Truncation to the client's size is the
//    caller's job (dns::truncateToFit()).
//  - A SERVFAIL never replaces an entry that is fresh or, with serve_stale, still servable
//    (users-and-perf item 24, coredns#7956); an expired SERVFAIL is never served stale.
//  - prefetch AMOUNT DURATION PERCENTAGE: a hit returns kFreshPrefetch when the entry was hit at
//    least AMOUNT times in the current DURATION window and its remaining TTL is ≤ PERCENTAGE % of
//    the stored duration (rounded up). The server answers at once and refreshes in the background;
//    at most one kFreshPrefetch per entry per `refresh_holdoff` (the forwarder coalesces anyway).
//  - serve_stale DURATION immediate: an entry expired less than DURATION ago is answered with TTL
//    `answer_ttl` (CoreDNS: 0) and kStale: refresh in the background.
//    serve_stale DURATION verify (RFC 8767 §5): lookup() returns kStaleVerifyFirst without an
//    answer; the server forwards, and only if that fails (timeout, SERVFAIL, REFUSED) calls
//    serveStale() for the stale copy. For `failure_recheck` after such a failure, lookup()
//    answers stale at once (kStale) so an upstream outage does not cost every client a timeout.
//  - Eviction: LRU within a shard (CoreDNS evicts at random), when the shard exceeds its share of
//    the class's capacity (ceil(capacity / shards) entries, so the total may exceed a capacity
//    that is not a multiple of the shard count by < shards) or of `max_bytes` (max_bytes / shards:
//    the byte bound is strict). Bytes count the entry, its answer and its share of the index, so
//    RSS for the cache stays close to bytes() (measured: 10k short answers = 2.56 MB accounted,
//    +2.4 MiB RSS).
//  - Each shard indexes its entries in an open-addressing table (linear probing, backward-shift
//    deletion) of {64-bit hash, entry pointer}: a lookup compares hashes in the table and touches
//    one entry, whose metadata, name and stored answer share one allocation.
//
// Locking protocol (cf. Unbound lruhash.h): the cache is split into `shards` shards by key hash;
// each shard has one mutex guarding its index, its two LRU lists, its byte count and its counters.
// Every public call takes at most one shard lock, for one short critical section (no I/O, no
// allocation on lookup, no callback); there is no global lock. stats()/entries()/bytes()/clear()
// visit the shards one after another, so their totals are not one atomic snapshot. All methods
// are thread-safe and noexcept (an allocation failure while inserting ends the process: OOM is
// fatal by house rule).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "resolver/cache/cache_key.h"
#include "resolver/dns/message.h"
#include "resolver/dns/rr_walk.h"

namespace nld::resolver::cache {

// Only the type of time points: the cache never reads a clock, every call takes `now` (the
// worker's loop time, a ManualClock's in tests).
using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

/// One server block's `cache` directive, normalised (defaults = CoreDNS's).
struct CachePolicy {
  size_t success_capacity = 9984;  ///< entries; 0 disables the success cache (`disable success`)
  uint32_t success_max_ttl = 3600;
  uint32_t success_min_ttl = 5;
  size_t denial_capacity = 9984;  ///< entries (servfail included); 0 disables denial caching
  uint32_t denial_max_ttl = 1800;
  uint32_t denial_min_ttl = 5;
  std::chrono::seconds servfail_ttl{5};  ///< 0 disables SERVFAIL caching; CoreDNS caps at 5 min
  bool keep_ttl = false;                 ///< CoreDNS `keepttl`
  struct Prefetch {
    bool enabled = false;
    unsigned amount = 1;
    std::chrono::seconds duration{60};
    unsigned percentage = 10;
  } prefetch;
  struct ServeStale {
    bool enabled = false;
    std::chrono::seconds duration{3600};
    bool verify = false;      ///< RFC 8767 refresh-first instead of CoreDNS's `immediate`
    uint32_t answer_ttl = 0;  ///< TTL of stale answers (CoreDNS 0; RFC 8767 suggests 30)
    /// verify: after a failed refresh (serveStale() was called), answer stale at once (kStale,
    /// refresh in the background) for this long instead of making every client wait for the
    /// upstream again (RFC 8767 §5 "failure recheck timer"; 0 disables).
    std::chrono::seconds failure_recheck{30};
  } serve_stale;
  std::chrono::seconds refresh_holdoff{2};  ///< min gap between two kFreshPrefetch of one entry
  size_t max_bytes = size_t{64} << 20;      ///< all entries of this cache, bookkeeping included
};

enum class Outcome : uint8_t {
  kMiss,              ///< nothing usable: forward; `out` untouched
  kFresh,             ///< answer in `out`
  kFreshPrefetch,     ///< answer in `out`; also refresh the entry in the background
  kStale,             ///< stale answer in `out` (serve_stale immediate); refresh in the background
  kStaleVerifyFirst,  ///< stale entry held back (serve_stale verify): forward first, and on
                      ///< failure call serveStale()
};

struct Hit {
  Outcome outcome = Outcome::kMiss;
  size_t length = 0;  ///< bytes written to `out` (0 for kMiss / kStaleVerifyFirst)
};

enum class InsertResult : uint8_t {
  kStored,
  kNotCacheable,  ///< malformed, TC, uncached rcode/type, question mismatch, zero duration
  kDisabled,      ///< the class's capacity is 0
  kKeptExisting,  ///< a SERVFAIL did not replace a fresh or servable-stale entry
  kTooLarge,      ///< bigger than a shard's byte share
};

struct CacheStats {
  uint64_t hits = 0;  ///< kFresh + kFreshPrefetch + kStale + serveStale() answers
  uint64_t misses = 0;
  uint64_t stale_hits = 0;  ///< answers served stale
  uint64_t prefetches = 0;  ///< kFreshPrefetch returned
  uint64_t inserts = 0;
  uint64_t evictions = 0;  ///< removed to make room (not expiry): the two below summed
  uint64_t evictions_success = 0;
  uint64_t evictions_denial = 0;  ///< NXDOMAIN, NODATA and SERVFAIL entries
  size_t success_entries = 0;
  size_t denial_entries = 0;
  size_t bytes = 0;
};

class Cache {
 public:
  /// @param shards rounded up to a power of two, at least 1.
  explicit Cache(const CachePolicy& policy, unsigned shards = 64);
  ~Cache();
  Cache(const Cache&) = delete;
  Cache& operator=(const Cache&) = delete;

  /// Looks `key` up and, on a hit, writes the answer for `query` (parsed from `query_wire`) into
  /// `out`. A hit whose answer does not fit in `out` counts as a miss. Allocation-free.
  Hit lookup(const CacheKey& key, const dns::Query& query, std::span<const uint8_t> query_wire,
             std::span<uint8_t> out, TimePoint now) noexcept;

  /// serve_stale verify: the refresh failed, answer from the stale entry if it is still inside
  /// the stale window. @return kStale with the answer, or kMiss.
  Hit serveStale(const CacheKey& key, const dns::Query& query, std::span<const uint8_t> query_wire,
                 std::span<uint8_t> out, TimePoint now) noexcept;

  /// Stores an upstream response for `key` (validated here; see the header comment for what is
  /// cached and for how long).
  InsertResult insert(const CacheKey& key, std::span<const uint8_t> response,
                      TimePoint now) noexcept;
  /// Same, when the caller already ran dns::inspectResponse() on `response`.
  InsertResult insert(const CacheKey& key, std::span<const uint8_t> response,
                      const dns::ResponseInfo& info, TimePoint now) noexcept;

  /// Removes one entry (e.g. a refresh answered NXDOMAIN under `disable denial`).
  void erase(const CacheKey& key) noexcept;

  size_t entries(bool denial) const noexcept;
  size_t bytes() const noexcept;
  CacheStats stats() const noexcept;
  void clear() noexcept;
  const CachePolicy& policy() const noexcept { return policy_; }

 private:
  struct Shard;
  Shard& shardFor(const CacheKey& key) const noexcept;
  Hit answer(const CacheKey& key, const dns::Query& query, std::span<const uint8_t> query_wire,
             std::span<uint8_t> out, TimePoint now, bool stale_only) noexcept;

  CachePolicy policy_;
  size_t shard_mask_;
  size_t success_cap_per_shard_;
  size_t denial_cap_per_shard_;
  size_t bytes_per_shard_;
  std::unique_ptr<Shard[]> shards_;
};

using CachePtr = std::unique_ptr<Cache>;

}  // namespace nld::resolver::cache
