// libFuzzer target: upstream answers as the forwarder and the cache take them. Input: two control
// bytes (the client's EDNS, DO, CD, UDP size, question casing; seconds until the cache is read;
// an extra truncation size), then the bytes an upstream sends back.
//
// The client's query asks the question the answer carries (so the forwarder's checks can pass);
// buildUpstreamQuery() makes what we would send; the answer gets that query's ID and must pass
// the forwarder's validation (inspectResponse() + sameQuestion()). Then, as the worker does:
// insert into a cache, buildClientAnswer() for the client, a cache lookup some seconds later
// (TTL decrement), and truncateToFit() of both to several sizes. Invariants (abort on break):
//  - the upstream query parses, asks the client's question bytes, carries only our OPT;
//  - every answer we build parses, has the client's ID and question bytes, an OPT iff the client
//    sent one (its DO, no options), and the upstream rcode;
//  - a truncated answer fits, still parses, keeps ID and question, and sets TC whenever it lost
//    an answer record or the authority of a negative answer.
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
  std::fprintf(stderr, "fuzz_upstream_answer.cc:%d: invariant failed: %s\n", line, what);
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
    p.success_capacity = 256;
    p.denial_capacity = 256;
    p.max_bytes = 4 << 20;
    p.serve_stale.enabled = true;
    return new cache::Cache(p, 4);  // lives for the whole fuzzing process, like the server's
  }();
  return *c;
}

constexpr size_t kBuf = 65536 + 64;
std::array<uint8_t, kBuf> g_answer;     // the upstream answer with our query's ID
std::array<uint8_t, kBuf> g_client;     // buildClientAnswer() / cache hit output
std::array<uint8_t, kBuf> g_truncated;  // truncateToFit() input/output
std::array<uint8_t, 600> g_query;
std::array<uint8_t, 600> g_upstream;
int64_t g_clock = 0;

// What one answer to `q` (parsed from `qwire`) must look like; `rcode` is the upstream's (null:
// not known, an older cache entry).
void checkClientAnswer(std::span<const uint8_t> a, const dns::Query& q,
                       std::span<const uint8_t> qwire, const dns::Rcode* rcode) {
  auto info = dns::inspectResponse(a);
  check(info.has_value());
  check(info->id == q.id);
  check(info->qdcount == 1);
  check(info->question_end == q.question_end);
  check(std::memcmp(a.data() + dns::kHeaderSize, qwire.data() + dns::kHeaderSize,
                    q.question_end - dns::kHeaderSize) == 0);
  check(rcode == nullptr || info->rcode == *rcode);
  check(info->opt_offset.has_value() == q.edns.has_value());
  if (info->opt_offset) {
    const uint8_t* opt = a.data() + *info->opt_offset;
    check(((dns::readU32(opt + 5) & dns::kEdnsDoBit) != 0) == q.doBit());
    check(dns::readU16(opt + 9) == 0);  // no options: no cookie, no padding
    check(info->opt_last);
  }
  check((info->flags & dns::flag::kRd) == (q.flags & dns::flag::kRd));
  check((info->flags & dns::flag::kCd) == (q.flags & dns::flag::kCd));

  // Truncation to the client's size, the usual sizes, and one from the input.
  for (size_t limit : {q.udpLimit(), size_t{512}, size_t{1232}, size_t{100}}) {
    std::memcpy(g_truncated.data(), a.data(), a.size());
    const size_t n = dns::truncateToFit(g_truncated, a.size(), limit);
    if (n == 0) {
      check(info->question_end > limit);
      continue;
    }
    check(n <= limit);
    const std::span<const uint8_t> t(g_truncated.data(), n);
    auto ti = dns::inspectResponse(t);
    check(ti.has_value());
    check(ti->id == q.id);
    check(ti->qdcount == 1);
    check(std::memcmp(t.data() + dns::kHeaderSize, a.data() + dns::kHeaderSize,
                      info->question_end - dns::kHeaderSize) == 0);
    if (n == a.size()) {
      continue;
    }
    check(ti->ancount <= info->ancount && ti->nscount <= info->nscount);
    if (ti->ancount < info->ancount) {
      check(ti->tc);
    }
    const bool negative = info->rcode == dns::Rcode::kNxDomain || info->ancount == 0;
    if (negative && ti->nscount < info->nscount) {
      check(ti->tc);
    }
    // The OPT survives whenever question + OPT fit.
    if (info->opt_offset && size_t{info->question_end} + dns::kOptRrSize <= limit) {
      check(ti->opt_offset.has_value());
    }
  }
}

void fuzzOne(uint8_t c0, uint8_t c1, std::span<const uint8_t> in) {
  if (in.size() < dns::kHeaderSize || in.size() > 65535) {
    return;
  }
  // The client asks the question the answer carries (or a fixed one).
  uint8_t name[dns::kMaxNameLength];
  size_t name_len = 0;
  uint16_t qtype = dns::qtype::kA;
  uint16_t qclass = dns::qclass::kIn;
  if (dns::headerCount(in, dns::hdr::kQdcount) >= 1) {
    name_len = dns::copyNameLower(in, dns::kHeaderSize, name);
    auto ref = name_len ? dns::readName(in, dns::kHeaderSize) : std::nullopt;
    if (ref && size_t{ref->end} + 4 <= in.size()) {
      qtype = dns::readU16(in.data() + ref->end);
      qclass = dns::readU16(in.data() + ref->end + 2);
    } else {
      name_len = 0;
    }
  }
  if (name_len == 0) {
    static constexpr uint8_t kFixed[] = {1, 'a', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0};
    std::memcpy(name, kFixed, sizeof kFixed);
    name_len = sizeof kFixed;
  }
  // 0x20: upper-case letters where the casing pattern says so.
  for (size_t i = 0; i < name_len; ++i) {
    if (name[i] >= 'a' && name[i] <= 'z' && ((c0 >> 6) + i) % 3 == 0) {
      name[i] = static_cast<uint8_t>(name[i] - 'a' + 'A');
    }
  }
  const bool edns = c0 & 1;
  const bool do_bit = c0 & 2;
  const bool cd = c0 & 4;
  static constexpr uint16_t kSizes[] = {100, 1232, 4096, 65535};
  uint8_t* q = g_query.data();
  std::memset(q, 0, dns::kHeaderSize);
  dns::writeU16(q, static_cast<uint16_t>(0x4000 | c1));
  dns::writeU16(
      q + 2, static_cast<uint16_t>(((c0 & 0x20) ? dns::flag::kRd : 0) | (cd ? dns::flag::kCd : 0)));
  dns::writeU16(q + dns::hdr::kQdcount, 1);
  std::memcpy(q + dns::kHeaderSize, name, name_len);
  size_t qlen = dns::kHeaderSize + name_len;
  dns::writeU16(q + qlen, qtype);
  dns::writeU16(q + qlen + 2, qclass);
  qlen += 4;
  if (edns) {
    dns::writeU16(q + dns::hdr::kArcount, 1);
    q[qlen] = 0;
    dns::writeU16(q + qlen + 1, dns::qtype::kOpt);
    dns::writeU16(q + qlen + 3, kSizes[(c0 >> 3) & 3]);
    dns::writeU32(q + qlen + 5, do_bit ? dns::kEdnsDoBit : 0);
    dns::writeU16(q + qlen + 9, 0);
    qlen += dns::kOptRrSize;
  }
  const std::span<const uint8_t> qwire(q, qlen);
  auto parsed = dns::parseQuery(qwire);
  if (!parsed) {
    return;  // e.g. a meta qtype the parser refuses: the worker would never forward it
  }
  auto key = cache::makeKey(*parsed, qwire);
  check(key.has_value());

  // What we send upstream.
  const size_t ulen = dns::buildUpstreamQuery(qwire, *parsed, g_upstream);
  check(ulen == size_t{parsed->question_end} + dns::kOptRrSize);
  const std::span<const uint8_t> uwire(g_upstream.data(), ulen);
  auto uq = dns::parseQuery(uwire);
  check(uq.has_value());
  check(uq->edns.has_value() && uq->edns->rdlength == 0 && uq->doBit() == parsed->doBit());
  check(uq->cd == parsed->cd && uq->rd == parsed->rd);
  check(std::memcmp(uwire.data() + dns::kHeaderSize, qwire.data() + dns::kHeaderSize,
                    parsed->question_end - dns::kHeaderSize) == 0);
  const uint16_t upstream_id = static_cast<uint16_t>(0x9000 | c0);
  dns::setId(g_upstream, upstream_id);

  // The forwarder's validation, on the answer with our ID.
  std::memcpy(g_answer.data(), in.data(), in.size());
  dns::writeU16(g_answer.data(), upstream_id);
  const std::span<const uint8_t> answer(g_answer.data(), in.size());
  auto info = dns::inspectResponse(answer);
  if (!info || !dns::sameQuestion(uwire, answer)) {
    return;
  }

  // The worker: insert, then this client's copy.
  g_clock += 10000;  // older entries have expired, also past serve_stale's hour
  const auto now = cache::TimePoint{} + std::chrono::seconds(g_clock);
  auto& c = theCache();
  const auto stored = c.insert(*key, answer, *info, now);
  const size_t n = dns::buildClientAnswer(answer, *info, *parsed, qwire, g_client);
  if (n == 0) {
    check(static_cast<unsigned>(info->rcode) > 15 && !parsed->edns);
  } else {
    checkClientAnswer(std::span<const uint8_t>(g_client.data(), n), *parsed, qwire, &info->rcode);
  }

  // A hit some seconds later: TTLs counted down, the client's header, question and OPT.
  const uint32_t later = c1 % 64;
  const auto hit = c.lookup(*key, *parsed, qwire, g_client, now + std::chrono::seconds(later));
  if (stored == cache::InsertResult::kStored && later == 0) {
    check(hit.outcome == cache::Outcome::kFresh);
  }
  if (hit.length > 0) {
    const std::span<const uint8_t> a(g_client.data(), hit.length);
    auto ai = dns::inspectResponse(a);
    check(ai.has_value());
    if (stored == cache::InsertResult::kStored) {
      check(ai->rr_count == info->rr_count);
    }
    check(ai->rr_count == 0 || ai->min_ttl <= 3600);  // the largest class maximum
    checkClientAnswer(a, *parsed, qwire,
                      stored == cache::InsertResult::kStored ? &info->rcode : nullptr);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) {
    return 0;
  }
  fuzzOne(data[0], data[1], std::span<const uint8_t>(data + 2, size - 2));
  return 0;
}
