#include "resolver/cache/cache_key.h"

#include <cstring>

#include "base/random.h"
#include "resolver/dns/name.h"

namespace nld::resolver::cache {
namespace {

uint64_t processSeed() noexcept {
  static const uint64_t seed = random64();
  return seed;
}

constexpr uint64_t kMul = 0x9e3779b97f4a7c15ULL;

uint64_t mix(uint64_t h) noexcept {  // murmur3 fmix64
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

uint64_t hashKey(const CacheKey& k) noexcept {
  uint64_t h = processSeed() ^ (uint64_t{k.name_length} * kMul);
  size_t i = 0;
  for (; i + 8 <= k.name_length; i += 8) {
    uint64_t chunk;
    std::memcpy(&chunk, k.name.data() + i, 8);
    h = (h ^ mix(chunk)) * kMul;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, k.name.data() + i, k.name_length - i);
  h = (h ^ mix(tail)) * kMul;
  const uint64_t meta = (uint64_t{k.qtype} << 32) | (uint64_t{k.qclass} << 16) |
                        (k.do_bit ? 2U : 0U) | (k.cd ? 1U : 0U);
  h = (h ^ mix(meta)) * kMul;
  return mix(h);
}

}  // namespace

std::optional<CacheKey> makeKey(const dns::Query& query, std::span<const uint8_t> wire) noexcept {
  CacheKey k;
  // parseQuery() validated the name and a query's name is never compressed (nothing precedes it
  // to point at): its wire bytes are the name. Copy them in one go instead of walking it again.
  const size_t len = query.qname_length;
  if (len == 0 || len > k.name.size() || size_t{query.qname_offset} + len > wire.size()) {
    return std::nullopt;
  }
  std::memcpy(k.name.data(), wire.data() + query.qname_offset, len);
  dns::lowerAscii(std::span<uint8_t>(k.name.data(), len));
  k.name_length = static_cast<uint8_t>(len);
  k.qtype = query.qtype;
  k.qclass = query.qclass;
  k.do_bit = query.doBit();
  k.cd = query.cd;
  k.hash = hashKey(k);
  return k;
}

std::optional<CacheKey> makeKey(std::span<const uint8_t> name_wire, uint16_t qtype, uint16_t qclass,
                                bool do_bit, bool cd) noexcept {
  CacheKey k;
  auto ref = dns::readName(name_wire, 0);
  if (!ref || ref->compressed || ref->length != name_wire.size()) {
    return std::nullopt;
  }
  const size_t len = dns::copyNameLower(name_wire, 0, k.name);
  k.name_length = static_cast<uint8_t>(len);
  k.qtype = qtype;
  k.qclass = qclass;
  k.do_bit = do_bit;
  k.cd = cd;
  k.hash = hashKey(k);
  return k;
}

}  // namespace nld::resolver::cache
