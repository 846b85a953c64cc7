// libFuzzer target for the wire format and the cache: the same bytes go through parseQuery(),
// buildErrorResponse(), inspectResponse(), truncateToFit(), rewriteTtls() and a Cache
// insert + lookup. Besides "no crash, no out-of-bounds read, no hang", it checks invariants and
// aborts when one breaks:
//  - a parsed query yields a cache key and an in-place question;
//  - every message we build (error answers, truncated answers, cache hits) passes
//    inspectResponse() and fits where it must;
//  - a cache hit answers the question that was asked.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>

#include "resolver/cache/cache.h"
#include "resolver/dns/builder.h"
#include "resolver/dns/message.h"
#include "resolver/dns/name.h"
#include "resolver/dns/rr_walk.h"

namespace {

using namespace nld::resolver;

void checkFailed(const char* what, int line) {
  std::fprintf(stderr, "fuzz_parse_query.cc:%d: invariant failed: %s\n", line, what);
  std::abort();
}
#define check(cond)                 \
  do {                              \
    if (!(cond)) {                  \
      checkFailed(#cond, __LINE__); \
    }                               \
  } while (0)

cache::Cache& theCache() {
  static cache::Cache* c = [] {
    cache::CachePolicy p;
    p.success_capacity = 512;
    p.denial_capacity = 512;
    p.max_bytes = 4 << 20;
    p.prefetch.enabled = true;
    p.prefetch.amount = 1;
    p.serve_stale.enabled = true;
    return new cache::Cache(p, 8);  // lives for the whole fuzzing process, like the server's
  }();
  return *c;
}

std::array<uint8_t, 65536 + 64> g_out;
std::array<uint8_t, 65536 + 64> g_copy;
std::array<uint8_t, 600> g_query;
uint64_t g_tick = 0;

void fuzzQuery(std::span<const uint8_t> in) {
  auto q = dns::parseQuery(in);
  if (q) {
    check(q->question_end <= in.size());
    check(size_t{q->qname_length} + 4 + dns::kHeaderSize == q->question_end);
    auto key = cache::makeKey(*q, in);
    check(key.has_value());
    // The key's in-place copy must equal a full validating walk of the name.
    std::array<uint8_t, dns::kMaxNameLength> walked{};
    const size_t walked_len = dns::copyNameLower(in, q->qname_offset, walked);
    check(walked_len == key->name_length);
    check(std::memcmp(walked.data(), key->name.data(), walked_len) == 0);
    check(q->udpLimit() >= 512);
    return;
  }
  if (!dns::shouldAnswer(q.error())) {
    return;
  }
  check(dns::headerReadable(in));
  const size_t n = dns::buildErrorResponse(in, dns::errorRcode(q.error()), g_out);
  check(n >= dns::kHeaderSize);
  auto info = dns::inspectResponse(std::span<const uint8_t>(g_out.data(), n));
  check(info.has_value());
  check(info->id == dns::headerId(in));
  check(info->rcode == dns::errorRcode(q.error()));
  if (info->qdcount == 1) {
    check(dns::sameQuestion(in, std::span<const uint8_t>(g_out.data(), n)));
  }
}

void fuzzResponse(std::span<const uint8_t> in) {
  auto info = dns::inspectResponse(in);
  if (!info) {
    return;
  }
  check(info->end == in.size());
  check(info->question_end <= info->answer_end && info->answer_end <= info->authority_end &&
        info->authority_end <= info->end);

  // Truncation to a few client sizes.
  for (size_t limit : {size_t{512}, size_t{1232}, size_t{100}}) {
    std::memcpy(g_copy.data(), in.data(), in.size());
    const size_t n = dns::truncateToFit(g_copy, in.size(), limit);
    if (n != 0) {
      check(n <= limit || n == in.size());
      check(n <= in.size());
      auto t = dns::inspectResponse(std::span<const uint8_t>(g_copy.data(), n));
      check(t.has_value());
      check(t->qdcount == info->qdcount);
    }
  }

  // TTL rewriting keeps the message valid and touches exactly rr_count TTLs.
  std::memcpy(g_copy.data(), in.data(), in.size());
  check(dns::rewriteTtls(std::span<uint8_t>(g_copy.data(), in.size()), 7) == info->rr_count);
  auto r = dns::inspectResponse(std::span<const uint8_t>(g_copy.data(), in.size()));
  check(r.has_value() && r->rr_count == info->rr_count);
  check(info->rr_count == 0 || r->min_ttl == 7);

  // Cache: store under the response's own question, then ask that question.
  if (info->qdcount != 1) {
    return;
  }
  const size_t qlen = info->question_end;  // header + question
  if (qlen > g_query.size()) {
    return;
  }
  // A query for the same question: header (ID 0x5151, RD, qdcount 1), the name uncompressed.
  uint8_t name[dns::kMaxNameLength];
  const size_t name_len = dns::copyNameLower(in, dns::kHeaderSize, name);
  check(name_len != 0);
  std::memset(g_query.data(), 0, dns::kHeaderSize);
  dns::writeU16(g_query.data(), 0x5151);
  dns::writeU16(g_query.data() + 2, dns::flag::kRd);
  dns::writeU16(g_query.data() + dns::hdr::kQdcount, 1);
  std::memcpy(g_query.data() + dns::kHeaderSize, name, name_len);
  dns::writeU16(g_query.data() + dns::kHeaderSize + name_len, info->qtype);
  dns::writeU16(g_query.data() + dns::kHeaderSize + name_len + 2, info->qclass);
  const std::span<const uint8_t> qwire(g_query.data(), dns::kHeaderSize + name_len + 4);
  auto q = dns::parseQuery(qwire);
  check(q.has_value());
  auto key = cache::makeKey(*q, qwire);
  check(key.has_value());

  const auto now = cache::TimePoint{} + std::chrono::seconds(++g_tick);
  auto& c = theCache();
  const auto stored = c.insert(*key, in, *info, now);
  const auto hit = c.lookup(*key, *q, qwire, g_out, now);
  if (stored == cache::InsertResult::kStored) {
    check(hit.outcome == cache::Outcome::kFresh || hit.outcome == cache::Outcome::kFreshPrefetch);
  }
  if (hit.length > 0) {
    const std::span<const uint8_t> ans(g_out.data(), hit.length);
    auto a = dns::inspectResponse(ans);
    check(a.has_value());
    check(a->id == 0x5151);
    check(dns::sameQuestion(qwire, ans));
    check(a->rr_count == info->rr_count || stored != cache::InsertResult::kStored);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 65535) {
    return 0;
  }
  const std::span<const uint8_t> in(data, size);
  fuzzQuery(in);
  fuzzResponse(in);
  return 0;
}
