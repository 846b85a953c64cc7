#include "resolver/cache/cache.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <mutex>
#include <new>
#include <type_traits>
#include <utility>

#include "resolver/dns/builder.h"
#include "resolver/dns/name.h"

namespace nld::resolver::cache {
namespace {

using dns::readU16;
using dns::writeU16;
using dns::writeU32;

enum class Kind : uint8_t { kSuccess = 0, kDenial = 1, kServfail = 2 };
constexpr size_t kListSuccess = 0;
constexpr size_t kListDenial = 1;  // NXDOMAIN, NODATA and SERVFAIL share the denial capacity
// Index slots (16 B each at a load of 3/8..3/4) + the allocator's header of the entry, roughly.
constexpr size_t kIndexOverhead = 48;

size_t listOf(Kind k) noexcept { return k == Kind::kSuccess ? kListSuccess : kListDenial; }

// One cached answer: metadata followed, in the same allocation, by one blob holding
// name | stored wire | TTL offsets (a hit touches one contiguous block, not two).
struct Entry {
  Entry* prev = nullptr;
  Entry* next = nullptr;
  uint64_t hash = 0;
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  uint8_t name_length = 0;
  bool do_bit = false;
  bool cd = false;
  Kind kind = Kind::kSuccess;
  uint16_t flags = 0;        // stored header flags (RA, AD, rcode)
  uint16_t wire_length = 0;  // stored message, OPT removed
  uint16_t question_end = 0;
  uint16_t ttl_count = 0;
  uint32_t ttl = 0;  // stored duration, seconds
  uint32_t hits_in_window = 0;
  TimePoint stored{};
  TimePoint last_used{};
  TimePoint window_start{};
  TimePoint refresh_requested{};
  TimePoint refresh_failed_at{};
  bool refresh_pending = false;
  bool refresh_failed = false;  // serveStale() was called: the last verify refresh failed
  size_t bytes = 0;

  uint8_t* blob() noexcept { return reinterpret_cast<uint8_t*>(this + 1); }
  const uint8_t* blob() const noexcept { return reinterpret_cast<const uint8_t*>(this + 1); }
  const uint8_t* name() const noexcept { return blob(); }
  const uint8_t* wire() const noexcept { return blob() + name_length; }
  uint16_t ttlOffset(size_t i) const noexcept {
    uint16_t v;
    std::memcpy(&v, blob() + name_length + wire_length + 2 * i, 2);
    return v;
  }
  bool matches(const CacheKey& k) const noexcept {
    return hash == k.hash && name_length == k.name_length && qtype == k.qtype &&
           qclass == k.qclass && do_bit == k.do_bit && cd == k.cd &&
           std::memcmp(name(), k.name.data(), name_length) == 0;
  }
  // Whole seconds left (CoreDNS item.ttl: origTTL − int(elapsed.Seconds())); ≤ 0 is expired.
  int64_t remaining(TimePoint now) const noexcept {
    const auto elapsed =
        now > stored ? std::chrono::duration_cast<std::chrono::seconds>(now - stored).count() : 0;
    return int64_t{ttl} - elapsed;
  }
};

static_assert(std::is_trivially_destructible_v<Entry>);
static_assert(sizeof(Entry) % alignof(Entry) == 0);

struct EntryDelete {
  void operator()(Entry* e) const noexcept { ::operator delete(e); }
};
using EntryPtr = std::unique_ptr<Entry, EntryDelete>;

// An Entry with `blob_size` bytes of blob after it (one allocation; OOM is fatal).
EntryPtr newEntry(size_t blob_size) {
  void* mem = ::operator new(sizeof(Entry) + blob_size);
  return EntryPtr(new (mem) Entry);
}

// Open-addressing index of one shard: hash → entry, linear probing, backward-shift deletion (no
// tombstones). The 64-bit hash sits next to the pointer, so a probe compares hashes without
// touching any entry; like the unordered_map it replaces, it holds at most one entry per hash (a
// colliding key replaces the entry, and a lookup whose full key differs is a miss). Not
// thread-safe: the shard's mutex guards it. Only insert() grows it (lookups never allocate).
class Index {
 public:
  Index() = default;
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  Entry* find(uint64_t hash) const noexcept {
    if (count_ == 0) {
      return nullptr;
    }
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.entry == nullptr) {
        return nullptr;
      }
      if (s.hash == hash) {
        return s.entry;
      }
    }
  }

  // Adds `e` under e->hash, which must not be present. May allocate (grows at 3/4 load).
  void add(Entry* e) {
    if ((count_ + 1) * 4 > capacity() * 3) {
      grow();
    }
    place(e->hash, e);
    ++count_;
  }

  // Removes the slot holding `hash` (present).
  void remove(uint64_t hash) noexcept {
    size_t i = hash & mask_;
    while (slots_[i].hash != hash || slots_[i].entry == nullptr) {
      i = (i + 1) & mask_;
    }
    // Backward shift: pull each following entry of the cluster back into the hole unless its
    // home slot lies cyclically in (hole, its slot].
    for (size_t j = (i + 1) & mask_; slots_[j].entry != nullptr; j = (j + 1) & mask_) {
      const size_t home = slots_[j].hash & mask_;
      const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
      if (!stays) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i] = Slot{};
    --count_;
  }

  // Forgets every entry (keeps the slot array).
  void clear() noexcept {
    std::fill_n(slots_.get(), capacity(), Slot{});
    count_ = 0;
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    Entry* entry = nullptr;  // nullptr: empty
  };
  static constexpr size_t kInitialCapacity = 16;

  size_t capacity() const noexcept { return slots_ ? mask_ + 1 : 0; }

  void place(uint64_t hash, Entry* e) noexcept {
    size_t i = hash & mask_;
    while (slots_[i].entry != nullptr) {
      i = (i + 1) & mask_;
    }
    slots_[i] = Slot{hash, e};
  }

  void grow() {
    const size_t old_capacity = capacity();
    const size_t n = old_capacity == 0 ? kInitialCapacity : 2 * old_capacity;
    std::unique_ptr<Slot[]> old = std::exchange(slots_, std::make_unique<Slot[]>(n));
    mask_ = n - 1;
    for (size_t i = 0; i < old_capacity; ++i) {
      if (old[i].entry != nullptr) {
        place(old[i].hash, old[i].entry);
      }
    }
  }

  std::unique_ptr<Slot[]> slots_;
  size_t mask_ = 0;
  size_t count_ = 0;
};

struct List {
  Entry* head = nullptr;  // most recently used
  Entry* tail = nullptr;
  size_t count = 0;

  void pushFront(Entry* e) noexcept {
    e->prev = nullptr;
    e->next = head;
    if (head != nullptr) {
      head->prev = e;
    } else {
      tail = e;
    }
    head = e;
    ++count;
  }
  void remove(Entry* e) noexcept {
    if (e->prev != nullptr) {
      e->prev->next = e->next;
    } else {
      head = e->next;
    }
    if (e->next != nullptr) {
      e->next->prev = e->prev;
    } else {
      tail = e->prev;
    }
    e->prev = e->next = nullptr;
    --count;
  }
  void moveToFront(Entry* e) noexcept {
    if (head != e) {
      remove(e);
      pushFront(e);
    }
  }
};

}  // namespace

struct alignas(64) Cache::Shard {
  mutable std::mutex mu;
  Index index;  // owns nothing: every entry is on exactly one of `lists`, which own them
  List lists[2];
  size_t bytes = 0;
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t stale_hits = 0;
  uint64_t prefetches = 0;
  uint64_t inserts = 0;
  uint64_t evictions[2] = {0, 0};  // per list

  Shard() = default;
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;
  ~Shard() { freeAll(); }

  // Unlinks and frees `e` (indexed). Caller holds mu.
  void erase(Entry* e) noexcept {
    lists[listOf(e->kind)].remove(e);
    bytes -= e->bytes;
    index.remove(e->hash);
    EntryDelete{}(e);
  }
  void evictOne(size_t list) noexcept {
    Entry* victim = lists[list].tail;
    if (victim != nullptr) {
      erase(victim);
      ++evictions[list];
    }
  }
  // Frees every entry and empties the lists (not the index). Caller holds mu.
  void freeAll() noexcept {
    for (List& l : lists) {
      for (Entry* e = l.head; e != nullptr;) {
        EntryDelete{}(std::exchange(e, e->next));
      }
      l = List{};
    }
  }
};

Cache::Cache(const CachePolicy& policy, unsigned shards) : policy_(policy) {
  const size_t n = std::bit_ceil(std::max(1U, shards));
  shard_mask_ = n - 1;
  auto share = [n](size_t total) {
    return total == 0 ? 0 : std::max<size_t>(1, (total + n - 1) / n);
  };
  success_cap_per_shard_ = share(policy.success_capacity);
  denial_cap_per_shard_ = share(policy.denial_capacity);
  bytes_per_shard_ = std::max<size_t>(1, policy.max_bytes / n);
  shards_ = std::make_unique<Shard[]>(n);
}

Cache::~Cache() = default;

Cache::Shard& Cache::shardFor(const CacheKey& key) const noexcept {
  // High bits pick the shard; the map inside uses the whole hash.
  return shards_[(key.hash >> 40) & shard_mask_];
}

Hit Cache::lookup(const CacheKey& key, const dns::Query& query, std::span<const uint8_t> query_wire,
                  std::span<uint8_t> out, TimePoint now) noexcept {
  return answer(key, query, query_wire, out, now, false);
}

Hit Cache::serveStale(const CacheKey& key, const dns::Query& query,
                      std::span<const uint8_t> query_wire, std::span<uint8_t> out,
                      TimePoint now) noexcept {
  return answer(key, query, query_wire, out, now, true);
}

Hit Cache::answer(const CacheKey& key, const dns::Query& query, std::span<const uint8_t> query_wire,
                  std::span<uint8_t> out, TimePoint now, bool stale_only) noexcept {
  Shard& s = shardFor(key);
  std::lock_guard lock(s.mu);
  Entry* e = s.index.find(key.hash);
  if (e == nullptr || !e->matches(key)) {
    ++s.misses;
    return {};
  }
  const int64_t remaining = e->remaining(now);
  Outcome outcome;
  uint32_t ttl;
  if (remaining > 0 && !stale_only) {
    outcome = Outcome::kFresh;
    ttl = static_cast<uint32_t>(remaining);
    if (policy_.prefetch.enabled) {
      // CoreDNS Freq.Update: a window of `duration` starting at its first hit.
      if (now - e->window_start > policy_.prefetch.duration || e->hits_in_window == 0) {
        e->window_start = now;
        e->hits_in_window = 1;
      } else {
        ++e->hits_in_window;
      }
      const uint64_t threshold = (uint64_t{e->ttl} * policy_.prefetch.percentage + 99) / 100;
      const bool holdoff =
          e->refresh_pending && now - e->refresh_requested < policy_.refresh_holdoff;
      if (e->hits_in_window >= policy_.prefetch.amount &&
          static_cast<uint64_t>(remaining) <= threshold && !holdoff) {
        outcome = Outcome::kFreshPrefetch;
        e->refresh_pending = true;
        e->refresh_requested = now;
      }
    }
  } else if (remaining <= 0 && policy_.serve_stale.enabled && e->kind != Kind::kServfail &&
             -remaining < policy_.serve_stale.duration.count()) {
    // Expired, inside the stale window (CoreDNS: ttl > -staleUpTo).
    if (stale_only) {
      e->refresh_failed = true;
      e->refresh_failed_at = now;
    } else if (policy_.serve_stale.verify &&
               !(e->refresh_failed &&
                 now - e->refresh_failed_at < policy_.serve_stale.failure_recheck)) {
      ++s.misses;
      return {Outcome::kStaleVerifyFirst, 0};
    }
    outcome = Outcome::kStale;
    ttl = policy_.serve_stale.answer_ttl;
  } else {
    if (remaining <= 0 && !stale_only) {
      s.erase(e);  // expired for good
    }
    ++s.misses;
    return {};
  }

  // Build the answer: the stored message with the client's header bits and question.
  const size_t opt = query.edns ? dns::kOptRrSize : 0;
  if (query.question_end != e->question_end || out.size() < size_t{e->wire_length} + opt ||
      query_wire.size() < query.question_end) {
    ++s.misses;
    return {};
  }
  uint8_t* p = out.data();
  std::memcpy(p, e->wire(), e->wire_length);
  std::memcpy(p + dns::kHeaderSize, query_wire.data() + dns::kHeaderSize,
              e->question_end - dns::kHeaderSize);
  const bool ad = (e->flags & dns::flag::kAd) != 0 && (query.doBit() || query.ad);
  const uint16_t flags = static_cast<uint16_t>(
      dns::flag::kQr | dns::flag::kAa |
      (query.flags & (dns::flag::kOpcodeMask | dns::flag::kRd | dns::flag::kCd)) |
      (e->flags & (dns::flag::kRa | dns::flag::kRcodeMask)) | (ad ? dns::flag::kAd : 0));
  writeU16(p + dns::hdr::kId, query.id);
  writeU16(p + dns::hdr::kFlags, flags);
  if (!policy_.keep_ttl || outcome == Outcome::kStale) {
    for (size_t i = 0; i < e->ttl_count; ++i) {
      writeU32(p + e->ttlOffset(i), ttl);
    }
  }
  size_t len = e->wire_length;
  if (query.edns) {
    len = dns::appendOpt(out, len, query.doBit());
  }
  s.lists[listOf(e->kind)].moveToFront(e);
  e->last_used = now;
  ++s.hits;
  if (outcome == Outcome::kStale) {
    ++s.stale_hits;
  } else if (outcome == Outcome::kFreshPrefetch) {
    ++s.prefetches;
  }
  return {outcome, len};
}

InsertResult Cache::insert(const CacheKey& key, std::span<const uint8_t> response,
                           TimePoint now) noexcept {
  auto info = dns::inspectResponse(response);
  if (!info) {
    return InsertResult::kNotCacheable;
  }
  return insert(key, response, *info, now);
}

InsertResult Cache::insert(const CacheKey& key, std::span<const uint8_t> response,
                           const dns::ResponseInfo& info, TimePoint now) noexcept {
  if (info.tc || info.qdcount != 1 || info.has_tsig || info.qtype != key.qtype ||
      info.qclass != key.qclass || response.size() != info.end ||
      !dns::namesEqual(key.nameWire(), 0, response, dns::kHeaderSize)) {
    return InsertResult::kNotCacheable;
  }
  Kind kind;
  uint64_t duration;
  auto clamp = [](uint32_t v, uint32_t lo, uint32_t hi) {  // CoreDNS computeTTL: max wins
    return uint64_t{std::min(std::max(v, lo), hi)};
  };
  switch (info.type) {
    case dns::ResponseType::kNoError:
    case dns::ResponseType::kDelegation:
      kind = Kind::kSuccess;
      duration = clamp(info.msg_ttl, policy_.success_min_ttl, policy_.success_max_ttl);
      if (policy_.success_capacity == 0) {
        return InsertResult::kDisabled;
      }
      break;
    case dns::ResponseType::kNameError:
    case dns::ResponseType::kNoData:
      kind = Kind::kDenial;
      duration = clamp(info.msg_ttl, policy_.denial_min_ttl, policy_.denial_max_ttl);
      if (policy_.denial_capacity == 0) {
        return InsertResult::kDisabled;
      }
      break;
    case dns::ResponseType::kServerError:
      kind = Kind::kServfail;
      duration = static_cast<uint64_t>(std::max<int64_t>(0, policy_.servfail_ttl.count()));
      if (policy_.denial_capacity == 0) {
        return InsertResult::kDisabled;
      }
      break;
    default:
      return InsertResult::kNotCacheable;
  }
  if (duration == 0) {
    return InsertResult::kNotCacheable;
  }
  if (info.opt_offset && !info.opt_last) {
    return InsertResult::kNotCacheable;  // OPT in the middle of the additional section: rare
  }
  const size_t wire_length = info.opt_offset ? *info.opt_offset : info.end;
  const size_t ttl_count = info.rr_count;
  const size_t blob_size = key.name_length + wire_length + 2 * ttl_count;
  const size_t bytes = sizeof(Entry) + blob_size + kIndexOverhead;
  if (bytes > bytes_per_shard_) {
    return InsertResult::kTooLarge;
  }

  // Build the entry outside the lock (its address is stable for the LRU links and the index).
  EntryPtr entry = newEntry(blob_size);
  Entry* e = entry.get();
  e->hash = key.hash;
  e->qtype = key.qtype;
  e->qclass = key.qclass;
  e->name_length = key.name_length;
  e->do_bit = key.do_bit;
  e->cd = key.cd;
  e->kind = kind;
  e->flags = info.flags;
  e->wire_length = static_cast<uint16_t>(wire_length);
  e->question_end = info.question_end;
  e->ttl_count = static_cast<uint16_t>(ttl_count);
  e->ttl = static_cast<uint32_t>(std::min<uint64_t>(duration, UINT32_MAX));
  e->stored = now;
  e->last_used = now;
  e->bytes = bytes;
  uint8_t* blob = e->blob();
  std::memcpy(blob, key.name.data(), key.name_length);
  uint8_t* wire = blob + key.name_length;
  std::memcpy(wire, response.data(), wire_length);
  if (info.opt_offset) {
    writeU16(wire + dns::hdr::kArcount, static_cast<uint16_t>(info.arcount - 1));
  }
  const std::span<const uint8_t> stored(wire, wire_length);
  if (ttl_count > 0) {
    // Offsets land unaligned in the blob: collect them first (insert is off the hit path).
    auto offsets = std::make_unique_for_overwrite<uint16_t[]>(ttl_count);
    auto n = dns::collectTtlOffsets(stored, std::span<uint16_t>(offsets.get(), ttl_count));
    if (!n || *n != ttl_count) {
      return InsertResult::kNotCacheable;
    }
    std::memcpy(wire + wire_length, offsets.get(), 2 * ttl_count);
  }
  if (!policy_.keep_ttl) {
    for (size_t k = 0; k < ttl_count; ++k) {
      writeU32(wire + e->ttlOffset(k), e->ttl);
    }
  }
  // What we serve must itself be valid: a name may have read bytes of the OPT RR we dropped
  // (found by libFuzzer). Hits only change the header, the question's casing, TTL fields (no
  // name may read them: inspectResponse) and append an OPT, so checking once here suffices.
  if (info.opt_offset) {
    auto again = dns::inspectResponse(stored);
    if (!again || again->rr_count != ttl_count) {
      return InsertResult::kNotCacheable;
    }
  }

  Shard& s = shardFor(key);
  std::lock_guard lock(s.mu);
  if (Entry* old = s.index.find(key.hash); old != nullptr) {
    if (old->matches(key)) {
      const int64_t remaining = old->remaining(now);
      const bool servable =
          remaining > 0 || (policy_.serve_stale.enabled && old->kind != Kind::kServfail &&
                            -remaining < policy_.serve_stale.duration.count());
      if (kind == Kind::kServfail && old->kind != Kind::kServfail && servable) {
        old->refresh_pending = false;
        return InsertResult::kKeptExisting;
      }
      e->window_start = old->window_start;  // keep the prefetch frequency across refreshes
      e->hits_in_window = old->hits_in_window;
    }
    s.erase(old);
  }
  s.index.add(e);  // may grow the index: the one allocation under the lock, as before
  Entry* raw = entry.release();
  const size_t list = listOf(kind);
  s.lists[list].pushFront(raw);
  s.bytes += raw->bytes;
  ++s.inserts;
  const size_t cap = list == kListSuccess ? success_cap_per_shard_ : denial_cap_per_shard_;
  while (s.lists[list].count > cap) {
    s.evictOne(list);
  }
  while (s.bytes > bytes_per_shard_) {
    // Evict the least recently used of the two tails (never the entry just added: it is a head
    // and fits alone).
    const Entry* a = s.lists[kListSuccess].tail;
    const Entry* b = s.lists[kListDenial].tail;
    if (a == raw && s.lists[kListSuccess].count == 1) {
      a = nullptr;
    }
    if (b == raw && s.lists[kListDenial].count == 1) {
      b = nullptr;
    }
    if (a == nullptr && b == nullptr) {
      break;
    }
    const bool pick_a = b == nullptr || (a != nullptr && a->last_used <= b->last_used);
    s.evictOne(pick_a ? kListSuccess : kListDenial);
  }
  return InsertResult::kStored;
}

void Cache::erase(const CacheKey& key) noexcept {
  Shard& s = shardFor(key);
  std::lock_guard lock(s.mu);
  Entry* e = s.index.find(key.hash);
  if (e != nullptr && e->matches(key)) {
    s.erase(e);
  }
}

size_t Cache::entries(bool denial) const noexcept {
  size_t n = 0;
  for (size_t i = 0; i <= shard_mask_; ++i) {
    std::lock_guard lock(shards_[i].mu);
    n += shards_[i].lists[denial ? kListDenial : kListSuccess].count;
  }
  return n;
}

size_t Cache::bytes() const noexcept {
  size_t n = 0;
  for (size_t i = 0; i <= shard_mask_; ++i) {
    std::lock_guard lock(shards_[i].mu);
    n += shards_[i].bytes;
  }
  return n;
}

CacheStats Cache::stats() const noexcept {
  CacheStats st;
  for (size_t i = 0; i <= shard_mask_; ++i) {
    const Shard& s = shards_[i];
    std::lock_guard lock(s.mu);
    st.hits += s.hits;
    st.misses += s.misses;
    st.stale_hits += s.stale_hits;
    st.prefetches += s.prefetches;
    st.inserts += s.inserts;
    st.evictions_success += s.evictions[kListSuccess];
    st.evictions_denial += s.evictions[kListDenial];
    st.evictions += s.evictions[kListSuccess] + s.evictions[kListDenial];
    st.success_entries += s.lists[kListSuccess].count;
    st.denial_entries += s.lists[kListDenial].count;
    st.bytes += s.bytes;
  }
  return st;
}

void Cache::clear() noexcept {
  for (size_t i = 0; i <= shard_mask_; ++i) {
    Shard& s = shards_[i];
    std::lock_guard lock(s.mu);
    s.freeAll();
    s.index.clear();
    s.bytes = 0;
  }
}

}  // namespace nld::resolver::cache
