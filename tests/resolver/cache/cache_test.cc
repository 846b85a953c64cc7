// Cache semantics with virtual time: every test passes its own time points, nothing sleeps.
#include "resolver/cache/cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "resolver/dns/builder.h"
#include "resolver/dns/message.h"
#include "resolver/dns/rr_walk.h"
#include "tests/resolver/dns/msg_builder.h"

// Counts heap allocations made by this thread while g_count_allocs is set, to prove the hit path
// allocates nothing. (GCC flags free() in a replaced operator delete once it inlines both.)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
namespace {
thread_local bool g_count_allocs = false;
thread_local size_t g_allocs = 0;
}  // namespace

// A sanitizer runtime defines operator new itself (NLD_SANITIZED): no counting there.
#ifndef NLD_SANITIZED
void* operator new(size_t n) {
  if (g_count_allocs) {
    ++g_allocs;
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) {
    return p;
  }
  throw std::bad_alloc();
}
void* operator new[](size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
#endif

namespace nld::resolver::cache {
namespace {

using namespace std::chrono_literals;
using dns::Rcode;
using dns::qtype::kA;
using test::Bytes;
using test::ipv4;
using test::Msg;

const TimePoint kT0 = TimePoint{} + 1000h;

struct Asked {
  Bytes wire;
  dns::Query query;
  CacheKey key;
};

Asked ask(std::string_view name, uint16_t type = kA, uint16_t id = 0x4242,
          std::optional<bool> edns_do = std::nullopt, bool cd = false, bool ad = false) {
  Msg m;
  m.id(id).rd().question(name, type);
  if (cd) {
    m.cd();
  }
  if (ad) {
    m.ad();
  }
  if (edns_do) {
    m.edns(1232, *edns_do);
  }
  Asked a;
  a.wire = m.wire();
  auto q = dns::parseQuery(a.wire);
  EXPECT_TRUE(q);
  a.query = *q;
  auto k = makeKey(a.query, a.wire);
  EXPECT_TRUE(k);
  a.key = *k;
  return a;
}

Bytes positive(std::string_view name, uint32_t ttl, uint8_t last_octet = 1) {
  return Msg::replyTo(name, kA)
      .compress()
      .answer(name, kA, ttl, ipv4(192, 0, 2, last_octet))
      .wire();
}

Bytes nxdomain(std::string_view name, uint32_t soa_ttl, uint32_t soa_min) {
  return Msg::replyTo(name, kA)
      .rcode(Rcode::kNxDomain)
      .soa("cluster.local", soa_ttl, soa_min)
      .wire();
}

Bytes servfail(std::string_view name) {
  return Msg::replyTo(name, kA).rcode(Rcode::kServFail).wire();
}

struct Answer {
  Hit hit;
  Bytes wire;
  std::optional<dns::ResponseInfo> info;
  uint32_t ttl() const { return info ? info->min_ttl : 0; }
};

Answer lookup(Cache& c, const Asked& a, TimePoint now) {
  Answer r;
  r.wire.resize(4096);
  r.hit = c.lookup(a.key, a.query, a.wire, r.wire, now);
  r.wire.resize(r.hit.length);
  if (r.hit.length > 0) {
    r.info = dns::inspectResponse(r.wire);
    EXPECT_TRUE(r.info) << "cache produced a malformed answer";
  }
  return r;
}

TEST(Cache, MissThenHitWithCountdown) {
  Cache c(CachePolicy{});
  auto a = ask("www.example.com");
  EXPECT_EQ(lookup(c, a, kT0).hit.outcome, Outcome::kMiss);
  EXPECT_EQ(c.insert(a.key, positive("www.example.com", 300), kT0), InsertResult::kStored);

  auto h = lookup(c, a, kT0);
  ASSERT_EQ(h.hit.outcome, Outcome::kFresh);
  EXPECT_EQ(h.ttl(), 300u);
  EXPECT_EQ(h.info->id, 0x4242);
  EXPECT_TRUE(h.info->aa);  // CoreDNS: hits are authoritative
  EXPECT_TRUE(h.info->ra);
  EXPECT_TRUE(h.info->flags & dns::flag::kRd);
  EXPECT_EQ(h.info->ancount, 1);
  EXPECT_TRUE(dns::sameQuestion(a.wire, h.wire));

  EXPECT_EQ(lookup(c, a, kT0 + 10500ms).ttl(), 290u);  // whole seconds elapsed
  EXPECT_EQ(lookup(c, a, kT0 + 299999ms).ttl(), 1u);
  EXPECT_EQ(lookup(c, a, kT0 + 300s).hit.outcome, Outcome::kMiss);  // expired and removed
  EXPECT_EQ(c.entries(false), 0u);
  auto st = c.stats();
  EXPECT_EQ(st.hits, 3u);
  EXPECT_EQ(st.misses, 2u);
}

TEST(Cache, EveryTtlRewrittenToDuration) {
  Cache c(CachePolicy{});
  auto a = ask("multi.example.com");
  Bytes r = Msg::replyTo("multi.example.com", kA)
                .answer("multi.example.com", kA, 100, ipv4(1, 1, 1, 1))
                .answer("multi.example.com", kA, 900, ipv4(1, 1, 1, 2))
                .soa("example.com", 3000, 60)
                .wire();
  ASSERT_EQ(c.insert(a.key, r, kT0), InsertResult::kStored);
  auto h = lookup(c, a, kT0 + 1s);
  uint16_t offsets[8];
  auto n = dns::collectTtlOffsets(h.wire, offsets);
  ASSERT_TRUE(n);
  ASSERT_EQ(*n, 3u);
  for (size_t i = 0; i < *n; ++i) {
    EXPECT_EQ(dns::readU32(h.wire.data() + offsets[i]), 99u);
  }
}

TEST(Cache, SuccessClampMinMax) {
  Cache c(CachePolicy{});
  auto low = ask("low.example.com");
  auto high = ask("high.example.com");
  c.insert(low.key, positive("low.example.com", 1), kT0);
  c.insert(high.key, positive("high.example.com", 86400), kT0);
  EXPECT_EQ(lookup(c, low, kT0).ttl(), 5u);      // success min 5
  EXPECT_EQ(lookup(c, high, kT0).ttl(), 3600u);  // success max 3600
}

TEST(Cache, Cache30SetsBothMaxima) {
  CachePolicy p;  // `cache 30`
  p.success_max_ttl = 30;
  p.denial_max_ttl = 30;
  Cache c(p);
  auto pos = ask("a.example.com");
  auto neg = ask("b.cluster.local");
  c.insert(pos.key, positive("a.example.com", 300), kT0);
  c.insert(neg.key, nxdomain("b.cluster.local", 600, 600), kT0);
  EXPECT_EQ(lookup(c, pos, kT0).ttl(), 30u);
  EXPECT_EQ(lookup(c, neg, kT0).ttl(), 30u);
  EXPECT_EQ(c.entries(true), 1u);
  EXPECT_EQ(c.entries(false), 1u);
}

TEST(Cache, DenialFiveSecondsExactly) {
  CachePolicy p;  // cluster zone: `success 9984 30` + `denial 9984 5`
  p.success_max_ttl = 30;
  p.denial_max_ttl = 5;
  p.denial_min_ttl = 5;
  Cache c(p);
  for (uint32_t soa_min : {1u, 5u, 30u, 3600u}) {
    c.clear();
    auto a = ask("nope.default.svc.cluster.local");
    ASSERT_EQ(c.insert(a.key, nxdomain("nope.default.svc.cluster.local", 3600, soa_min), kT0),
              InsertResult::kStored);
    auto h = lookup(c, a, kT0);
    ASSERT_EQ(h.hit.outcome, Outcome::kFresh);
    EXPECT_EQ(h.ttl(), 5u) << soa_min;
    EXPECT_EQ(h.info->rcode, Rcode::kNxDomain);
    EXPECT_EQ(lookup(c, a, kT0 + 4999ms).ttl(), 1u);
    EXPECT_EQ(lookup(c, a, kT0 + 5s).hit.outcome, Outcome::kMiss) << soa_min;
  }
  // NODATA too.
  auto a = ask("svc.cluster.local", dns::qtype::kAaaa);
  Bytes nodata =
      Msg::replyTo("svc.cluster.local", dns::qtype::kAaaa).soa("cluster.local", 30, 30).wire();
  ASSERT_EQ(c.insert(a.key, nodata, kT0), InsertResult::kStored);
  EXPECT_EQ(lookup(c, a, kT0).ttl(), 5u);
}

TEST(Cache, DenialUsesSoaMinimum) {
  Cache c(CachePolicy{});  // denial 5..1800
  auto a = ask("x.cluster.local");
  c.insert(a.key, nxdomain("x.cluster.local", 900, 60), kT0);
  EXPECT_EQ(lookup(c, a, kT0).ttl(), 60u);
}

TEST(Cache, ServfailShortAndNeverMasks) {
  CachePolicy p;
  Cache c(p);
  auto a = ask("flaky.example.com");
  ASSERT_EQ(c.insert(a.key, servfail("flaky.example.com"), kT0), InsertResult::kStored);
  auto h = lookup(c, a, kT0 + 4s);
  ASSERT_EQ(h.hit.outcome, Outcome::kFresh);
  EXPECT_EQ(h.info->rcode, Rcode::kServFail);
  EXPECT_EQ(h.info->rr_count, 0u);  // no RRs: nothing to count down
  EXPECT_EQ(lookup(c, a, kT0 + 5s).hit.outcome, Outcome::kMiss);

  // A fresh positive entry is not replaced by a SERVFAIL.
  auto b = ask("good.example.com");
  c.insert(b.key, positive("good.example.com", 60), kT0);
  EXPECT_EQ(c.insert(b.key, servfail("good.example.com"), kT0 + 10s), InsertResult::kKeptExisting);
  auto hb = lookup(c, b, kT0 + 10s);
  EXPECT_EQ(hb.info->rcode, Rcode::kNoError);
  EXPECT_EQ(hb.ttl(), 50u);
  // Once the positive entry has expired (no serve_stale), the SERVFAIL is stored.
  EXPECT_EQ(c.insert(b.key, servfail("good.example.com"), kT0 + 61s), InsertResult::kStored);

  // servfail 0 disables.
  p.servfail_ttl = 0s;
  Cache off(p);
  EXPECT_EQ(off.insert(a.key, servfail("flaky.example.com"), kT0), InsertResult::kNotCacheable);
}

TEST(Cache, ServfailDoesNotMaskStaleEntry) {
  CachePolicy p;
  p.serve_stale.enabled = true;
  Cache c(p);
  auto a = ask("stale.example.com");
  c.insert(a.key, positive("stale.example.com", 30), kT0);
  EXPECT_EQ(c.insert(a.key, servfail("stale.example.com"), kT0 + 100s),
            InsertResult::kKeptExisting);
  auto h = lookup(c, a, kT0 + 100s);
  EXPECT_EQ(h.hit.outcome, Outcome::kStale);
  EXPECT_EQ(h.info->rcode, Rcode::kNoError);
}

TEST(Cache, NotCached) {
  Cache c(CachePolicy{});
  auto a = ask("a.example.com");
  struct Case {
    const char* what;
    Bytes wire;
  } cases[] = {
      {"refused", Msg::replyTo("a.example.com", kA).rcode(Rcode::kRefused).wire()},
      {"formerr", Msg::replyTo("a.example.com", kA).rcode(Rcode::kFormErr).wire()},
      {"notimp", Msg::replyTo("a.example.com", kA).rcode(Rcode::kNotImp).wire()},
      {"truncated", Msg::replyTo("a.example.com", kA).tc().wire()},
      {"nxdomain without soa", Msg::replyTo("a.example.com", kA).rcode(Rcode::kNxDomain).wire()},
      {"other name", positive("b.example.com", 60)},
      {"other type", Msg::replyTo("a.example.com", dns::qtype::kAaaa).wire()},
      {"malformed", Bytes{1, 2, 3}},
      {"query not response", Msg().question("a.example.com", kA).wire()},
  };
  for (const auto& cs : cases) {
    EXPECT_EQ(c.insert(a.key, cs.wire, kT0), InsertResult::kNotCacheable) << cs.what;
  }
  EXPECT_EQ(c.entries(false) + c.entries(true), 0u);
  auto axfr = ask("example.com", dns::qtype::kAxfr);
  EXPECT_EQ(c.insert(axfr.key, Msg::replyTo("example.com", dns::qtype::kAxfr).wire(), kT0),
            InsertResult::kNotCacheable);
}

TEST(Cache, DisabledClasses) {
  CachePolicy p;
  p.denial_capacity = 0;
  Cache c(p);
  auto a = ask("x.cluster.local");
  EXPECT_EQ(c.insert(a.key, nxdomain("x.cluster.local", 30, 30), kT0), InsertResult::kDisabled);
  EXPECT_EQ(c.insert(a.key, positive("x.cluster.local", 30), kT0), InsertResult::kStored);
}

TEST(Cache, ServeStaleImmediate) {
  CachePolicy p;
  p.serve_stale.enabled = true;
  p.serve_stale.duration = 3600s;
  Cache c(p);
  auto a = ask("s.example.com");
  c.insert(a.key, positive("s.example.com", 30), kT0);
  EXPECT_EQ(lookup(c, a, kT0 + 29s).hit.outcome, Outcome::kFresh);
  auto h = lookup(c, a, kT0 + 30s);
  ASSERT_EQ(h.hit.outcome, Outcome::kStale);
  EXPECT_EQ(h.ttl(), 0u);  // CoreDNS: stale answers carry TTL 0
  EXPECT_EQ(lookup(c, a, kT0 + 30s + 3599s).hit.outcome, Outcome::kStale);
  EXPECT_EQ(lookup(c, a, kT0 + 30s + 3600s).hit.outcome, Outcome::kMiss);
  EXPECT_EQ(c.stats().stale_hits, 2u);
  // A refreshed answer replaces the stale one.
  auto b = ask("t.example.com");
  c.insert(b.key, positive("t.example.com", 30), kT0);
  ASSERT_EQ(lookup(c, b, kT0 + 40s).hit.outcome, Outcome::kStale);
  c.insert(b.key, positive("t.example.com", 30, 9), kT0 + 41s);
  auto fresh = lookup(c, b, kT0 + 41s);
  EXPECT_EQ(fresh.hit.outcome, Outcome::kFresh);
  EXPECT_EQ(fresh.ttl(), 30u);
  EXPECT_EQ(fresh.wire[fresh.wire.size() - 1], 9);
}

TEST(Cache, ServeStaleAnswerTtlConfigurable) {
  CachePolicy p;
  p.serve_stale.enabled = true;
  p.serve_stale.answer_ttl = 30;  // RFC 8767 §4 suggestion
  Cache c(p);
  auto a = ask("s.example.com");
  c.insert(a.key, positive("s.example.com", 10), kT0);
  EXPECT_EQ(lookup(c, a, kT0 + 20s).ttl(), 30u);
}

TEST(Cache, ServeStaleVerifyRefreshesFirst) {
  CachePolicy p;
  p.serve_stale.enabled = true;
  p.serve_stale.verify = true;
  Cache c(p);
  auto a = ask("v.example.com");
  c.insert(a.key, positive("v.example.com", 30), kT0);
  auto h = lookup(c, a, kT0 + 31s);
  EXPECT_EQ(h.hit.outcome, Outcome::kStaleVerifyFirst);
  EXPECT_EQ(h.hit.length, 0u);
  // The refresh failed: the server asks for the stale copy.
  Bytes out(4096);
  Hit s = c.serveStale(a.key, a.query, a.wire, out, kT0 + 33s);
  ASSERT_EQ(s.outcome, Outcome::kStale);
  out.resize(s.length);
  EXPECT_EQ(dns::inspectResponse(out)->min_ttl, 0u);
  // serveStale on a fresh entry, or an unknown key, gives nothing.
  auto b = ask("w.example.com");
  Bytes out2(4096);
  EXPECT_EQ(c.serveStale(b.key, b.query, b.wire, out2, kT0).outcome, Outcome::kMiss);
  c.insert(b.key, positive("w.example.com", 30), kT0);
  EXPECT_EQ(c.serveStale(b.key, b.query, b.wire, out2, kT0 + 1s).outcome, Outcome::kMiss);
  // Beyond the stale window: miss.
  EXPECT_EQ(lookup(c, a, kT0 + 30s + 3600s).hit.outcome, Outcome::kMiss);
}

TEST(Cache, ServeStaleVerifyFailureRecheck) {
  CachePolicy p;
  p.serve_stale.enabled = true;
  p.serve_stale.verify = true;
  p.serve_stale.failure_recheck = 30s;
  Cache c(p);
  auto a = ask("down.example.com");
  c.insert(a.key, positive("down.example.com", 10), kT0);
  EXPECT_EQ(lookup(c, a, kT0 + 20s).hit.outcome, Outcome::kStaleVerifyFirst);
  Bytes out(4096);
  ASSERT_EQ(c.serveStale(a.key, a.query, a.wire, out, kT0 + 22s).outcome, Outcome::kStale);
  // Upstream just failed: answer stale at once (and refresh in the background) for 30 s.
  EXPECT_EQ(lookup(c, a, kT0 + 23s).hit.outcome, Outcome::kStale);
  EXPECT_EQ(lookup(c, a, kT0 + 51s).hit.outcome, Outcome::kStale);
  EXPECT_EQ(lookup(c, a, kT0 + 52s).hit.outcome, Outcome::kStaleVerifyFirst);
  // A successful refresh starts over.
  c.insert(a.key, positive("down.example.com", 10), kT0 + 53s);
  EXPECT_EQ(lookup(c, a, kT0 + 54s).hit.outcome, Outcome::kFresh);
  EXPECT_EQ(lookup(c, a, kT0 + 64s).hit.outcome, Outcome::kStaleVerifyFirst);
}

TEST(Cache, StaleServfailIsNeverServed) {
  CachePolicy p;
  p.serve_stale.enabled = true;
  Cache c(p);
  auto a = ask("sf.example.com");
  c.insert(a.key, servfail("sf.example.com"), kT0);
  EXPECT_EQ(lookup(c, a, kT0 + 6s).hit.outcome, Outcome::kMiss);
}

TEST(Cache, PrefetchThreshold) {
  CachePolicy p;
  p.prefetch.enabled = true;
  p.prefetch.amount = 3;
  p.prefetch.duration = 60s;
  p.prefetch.percentage = 10;
  p.refresh_holdoff = 2s;
  Cache c(p);
  auto a = ask("hot.example.com");
  c.insert(a.key, positive("hot.example.com", 100), kT0);
  // CoreDNS Freq: a window of 60 s opens at the first hit; a hit after it closes opens a new one.
  EXPECT_EQ(lookup(c, a, kT0 + 1s).hit.outcome, Outcome::kFresh);   // window 1..61: hit 1
  EXPECT_EQ(lookup(c, a, kT0 + 70s).hit.outcome, Outcome::kFresh);  // new window from 70: 1
  EXPECT_EQ(lookup(c, a, kT0 + 75s).hit.outcome, Outcome::kFresh);  // 2
  EXPECT_EQ(lookup(c, a, kT0 + 80s).hit.outcome, Outcome::kFresh);  // 3, but 20 s left > 10
  auto h = lookup(c, a, kT0 + 90s);  // 4 hits in the window, 10 s left ≤ 10 % of 100
  EXPECT_EQ(h.hit.outcome, Outcome::kFreshPrefetch);
  EXPECT_EQ(h.ttl(), 10u);
  EXPECT_EQ(lookup(c, a, kT0 + 91s).hit.outcome, Outcome::kFresh);          // refresh already asked
  EXPECT_EQ(lookup(c, a, kT0 + 93s).hit.outcome, Outcome::kFreshPrefetch);  // holdoff over
  EXPECT_EQ(c.stats().prefetches, 2u);

  // A cold entry (too few hits in the window) is not prefetched.
  auto cold = ask("cold.example.com");
  c.insert(cold.key, positive("cold.example.com", 100), kT0);
  EXPECT_EQ(lookup(c, cold, kT0 + 95s).hit.outcome, Outcome::kFresh);
  // Hits outside the 60 s window start a new count.
  c.insert(cold.key, positive("cold.example.com", 100), kT0 + 100s);
  lookup(c, cold, kT0 + 101s);
  lookup(c, cold, kT0 + 102s);
  EXPECT_EQ(lookup(c, cold, kT0 + 195s).hit.outcome, Outcome::kFresh);  // window restarted
}

TEST(Cache, EntryBoundEvictsLeastRecentlyUsed) {
  CachePolicy p;
  p.success_capacity = 8;
  Cache c(p, 1);
  std::vector<Asked> names;
  for (int i = 0; i < 10; ++i) {
    names.push_back(ask("n" + std::to_string(i) + ".example.com"));
  }
  for (int i = 0; i < 8; ++i) {
    c.insert(names[i].key, positive("n" + std::to_string(i) + ".example.com", 300), kT0);
  }
  EXPECT_EQ(lookup(c, names[0], kT0 + 1s).hit.outcome, Outcome::kFresh);  // 0 becomes MRU
  c.insert(names[8].key, positive("n8.example.com", 300), kT0 + 2s);
  c.insert(names[9].key, positive("n9.example.com", 300), kT0 + 2s);
  EXPECT_EQ(c.entries(false), 8u);
  EXPECT_EQ(lookup(c, names[0], kT0 + 3s).hit.outcome, Outcome::kFresh);
  EXPECT_EQ(lookup(c, names[1], kT0 + 3s).hit.outcome, Outcome::kMiss);
  EXPECT_EQ(lookup(c, names[2], kT0 + 3s).hit.outcome, Outcome::kMiss);
  EXPECT_EQ(lookup(c, names[3], kT0 + 3s).hit.outcome, Outcome::kFresh);
  EXPECT_EQ(c.stats().evictions, 2u);
}

TEST(Cache, SuccessAndDenialCapacitiesAreSeparate) {
  CachePolicy p;
  p.success_capacity = 4;
  p.denial_capacity = 2;
  Cache c(p, 1);
  for (int i = 0; i < 6; ++i) {
    std::string n = "d" + std::to_string(i) + ".cluster.local";
    c.insert(ask(n).key, nxdomain(n, 30, 30), kT0);
    std::string s = "s" + std::to_string(i) + ".cluster.local";
    c.insert(ask(s).key, positive(s, 30), kT0);
  }
  EXPECT_EQ(c.entries(true), 2u);
  EXPECT_EQ(c.entries(false), 4u);
  EXPECT_EQ(c.stats().evictions_denial, 4u);
  EXPECT_EQ(c.stats().evictions_success, 2u);
  EXPECT_EQ(c.stats().evictions, 6u);
}

TEST(Cache, ByteBound) {
  CachePolicy p;
  p.max_bytes = 64 * 1024;
  Cache c(p, 4);
  // ~1 KiB answers: 20 A records each.
  for (int i = 0; i < 500; ++i) {
    std::string n = "big" + std::to_string(i) + ".example.com";
    Msg m = Msg::replyTo(n, kA);
    m.compress();
    for (uint8_t k = 0; k < 60; ++k) {
      m.answer(n, kA, 300, ipv4(10, 1, 0, k));
    }
    c.insert(ask(n).key, m.wire(), kT0 + std::chrono::milliseconds(i));
    ASSERT_LE(c.bytes(), p.max_bytes);
  }
  auto st = c.stats();
  EXPECT_GT(st.evictions, 400u);
  EXPECT_GT(st.success_entries, 20u);  // the bound is used, not just respected
  EXPECT_LE(st.bytes, p.max_bytes);
  // An answer bigger than a shard's share is refused outright.
  CachePolicy tiny_policy;
  tiny_policy.max_bytes = 4096;
  Cache tiny(tiny_policy, 4);
  Msg m = Msg::replyTo("huge.example.com", kA);
  for (uint8_t k = 0; k < 100; ++k) {
    m.answer("huge.example.com", kA, 300, ipv4(10, 1, 0, k));
  }
  EXPECT_EQ(tiny.insert(ask("huge.example.com").key, m.wire(), kT0), InsertResult::kTooLarge);
}

TEST(Cache, DoAndCdArePartOfTheKey) {
  Cache c(CachePolicy{});
  auto plain = ask("k.example.com");
  auto with_do = ask("k.example.com", kA, 1, true);
  auto with_cd = ask("k.example.com", kA, 1, std::nullopt, true);
  auto edns_no_do = ask("k.example.com", kA, 1, false);
  EXPECT_FALSE(plain.key == with_do.key);
  EXPECT_FALSE(plain.key == with_cd.key);
  EXPECT_TRUE(plain.key == edns_no_do.key);  // EDNS without DO shares the entry
  c.insert(plain.key, positive("k.example.com", 60), kT0);
  EXPECT_EQ(lookup(c, with_do, kT0).hit.outcome, Outcome::kMiss);
  EXPECT_EQ(lookup(c, with_cd, kT0).hit.outcome, Outcome::kMiss);
  EXPECT_EQ(lookup(c, edns_no_do, kT0).hit.outcome, Outcome::kFresh);
}

TEST(Cache, CaseInsensitiveKeyEchoesClientCasing) {
  Cache c(CachePolicy{});
  auto lower = ask("www.example.com");
  auto mixed = ask("WwW.ExAmPle.COM", kA, 0x7777);
  EXPECT_TRUE(lower.key == mixed.key);
  c.insert(lower.key, positive("www.example.com", 60), kT0);
  auto h = lookup(c, mixed, kT0);
  ASSERT_EQ(h.hit.outcome, Outcome::kFresh);
  EXPECT_EQ(h.info->id, 0x7777);
  // Question bytes identical to the client's.
  EXPECT_TRUE(std::equal(mixed.wire.begin() + 12, mixed.wire.begin() + mixed.query.question_end,
                         h.wire.begin() + 12));
  EXPECT_EQ(dns::nameToText(h.wire, 12), "WwW.ExAmPle.COM.");
}

TEST(Cache, OptFollowsTheClient) {
  Cache c(CachePolicy{});
  auto plain = ask("o.example.com");
  Bytes r = Msg::replyTo("o.example.com", kA)
                .answer("o.example.com", kA, 60, ipv4(1, 2, 3, 4))
                .edns(4096)
                .wire();
  ASSERT_EQ(c.insert(plain.key, r, kT0), InsertResult::kStored);
  auto h = lookup(c, plain, kT0);
  EXPECT_FALSE(h.info->opt_offset);  // upstream's OPT not replayed to a non-EDNS client
  auto edns = ask("o.example.com", kA, 1, false);
  auto he = lookup(c, edns, kT0);
  ASSERT_TRUE(he.info->opt_offset);
  EXPECT_EQ(dns::readU16(he.wire.data() + *he.info->opt_offset + 3), dns::kAdvertisedUdpSize);
}

TEST(Cache, AdOnlyForDoOrAdQueries) {
  Cache c(CachePolicy{});
  auto q = ask("ad.example.com");
  Bytes r = Msg::replyTo("ad.example.com", kA)
                .ad()
                .answer("ad.example.com", kA, 60, ipv4(1, 2, 3, 4))
                .wire();
  c.insert(q.key, r, kT0);
  EXPECT_FALSE(lookup(c, q, kT0).info->ad);
  auto q_ad = ask("ad.example.com", kA, 1, std::nullopt, false, true);
  EXPECT_TRUE(lookup(c, q_ad, kT0).info->ad);
}

// users-and-perf item 32 on the hit path: a cached answer larger than a non-EDNS client's 512
// bytes sheds additional, then authority, before TC (musl has no TCP fallback).
TEST(Cache, LargeHitFitsTheClient) {
  Cache c(CachePolicy{});
  auto q = ask("many.example.com");
  Msg m = Msg::replyTo("many.example.com", kA);
  m.compress();
  for (uint8_t i = 0; i < 25; ++i) {
    m.answer("many.example.com", kA, 60, ipv4(10, 0, 0, i));
  }
  for (int i = 0; i < 4; ++i) {
    m.authority("example.com", dns::qtype::kNs, 60,
                test::nameWire("ns" + std::to_string(i) + ".example.com"));
  }
  for (uint8_t i = 0; i < 4; ++i) {
    m.additional("ns" + std::to_string(i) + ".example.com", kA, 60, ipv4(192, 0, 2, i));
  }
  ASSERT_EQ(c.insert(q.key, m.wire(), kT0), InsertResult::kStored);
  auto h = lookup(c, q, kT0);
  ASSERT_GT(h.hit.length, 512u);
  const size_t n = dns::truncateToFit(h.wire, h.wire.size(), q.query.udpLimit());
  ASSERT_GT(n, 0u);
  ASSERT_LE(n, 512u);
  auto t = dns::inspectResponse(std::span<const uint8_t>(h.wire.data(), n));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->ancount, 25);
  EXPECT_FALSE(t->tc);
  EXPECT_EQ(t->arcount, 0);
}

TEST(Cache, OutputTooSmallIsAMiss) {
  Cache c(CachePolicy{});
  auto a = ask("s.example.com");
  c.insert(a.key, positive("s.example.com", 60), kT0);
  Bytes out(20);
  EXPECT_EQ(c.lookup(a.key, a.query, a.wire, out, kT0).outcome, Outcome::kMiss);
}

TEST(Cache, KeepTtl) {
  CachePolicy p;
  p.keep_ttl = true;
  Cache c(p);
  auto a = ask("keep.example.com");
  c.insert(a.key, positive("keep.example.com", 77), kT0);
  EXPECT_EQ(lookup(c, a, kT0 + 10s).ttl(), 77u);
  EXPECT_EQ(lookup(c, a, kT0 + 77s).hit.outcome, Outcome::kMiss);
}

TEST(Cache, HitPathAllocatesNothing) {
#ifdef NLD_SANITIZED
  GTEST_SKIP() << "the sanitizer runtime replaces operator new; allocations are not counted";
#endif
  CachePolicy p;
  p.prefetch.enabled = true;
  p.serve_stale.enabled = true;
  Cache c(p);
  auto a = ask("hot.example.com", kA, 9, true);
  c.insert(a.key, positive("hot.example.com", 60), kT0);
  Bytes out(4096);
  g_allocs = 0;
  g_count_allocs = true;
  auto q = dns::parseQuery(a.wire);
  auto k = makeKey(*q, a.wire);
  Hit fresh = c.lookup(*k, *q, a.wire, out, kT0 + 1s);
  Hit prefetch = c.lookup(*k, *q, a.wire, out, kT0 + 59s);
  Hit stale = c.lookup(*k, *q, a.wire, out, kT0 + 61s);
  const size_t n = dns::truncateToFit(out, stale.length, 512);
  g_count_allocs = false;
  EXPECT_EQ(g_allocs, 0u);
  EXPECT_EQ(fresh.outcome, Outcome::kFresh);
  EXPECT_EQ(prefetch.outcome, Outcome::kFreshPrefetch);
  EXPECT_EQ(stale.outcome, Outcome::kStale);
  EXPECT_EQ(n, stale.length);
  // The counter works: an insert allocates.
  g_count_allocs = true;
  c.insert(a.key, positive("hot.example.com", 60), kT0 + 62s);
  g_count_allocs = false;
  EXPECT_GT(g_allocs, 0u);
}

TEST(Cache, EraseAndClear) {
  Cache c(CachePolicy{});
  auto a = ask("a.example.com");
  auto b = ask("b.example.com");
  c.insert(a.key, positive("a.example.com", 60), kT0);
  c.insert(b.key, positive("b.example.com", 60), kT0);
  c.erase(a.key);
  EXPECT_EQ(lookup(c, a, kT0).hit.outcome, Outcome::kMiss);
  EXPECT_EQ(lookup(c, b, kT0).hit.outcome, Outcome::kFresh);
  c.clear();
  EXPECT_EQ(c.bytes(), 0u);
  EXPECT_EQ(lookup(c, b, kT0).hit.outcome, Outcome::kMiss);
}

// Several threads look up and insert overlapping keys; every answer must be well-formed and
// carry the asking thread's ID. Run under the ASan/TSan builds too.
TEST(Cache, ConcurrentLookupInsertStress) {
  CachePolicy p;
  p.success_capacity = 256;  // force evictions while others read
  p.max_bytes = 256 * 1024;
  Cache c(p, 16);
  constexpr int kThreads = 4;
  constexpr int kOps = 20000;
  constexpr int kNames = 600;
  std::vector<Asked> asked;
  std::vector<Bytes> responses;
  for (int i = 0; i < kNames; ++i) {
    std::string n = "n" + std::to_string(i) + ".stress.test";
    asked.push_back(ask(n, kA, static_cast<uint16_t>(i)));
    responses.push_back(positive(n, static_cast<uint32_t>(5 + i % 50)));
  }
  std::atomic<int> bad{0};
  std::atomic<long> hits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      Bytes out(2048);
      for (int op = 0; op < kOps; ++op) {
        const int i = static_cast<int>(rng() % kNames);
        const TimePoint now = kT0 + std::chrono::milliseconds(op);
        if (rng() % 4 == 0) {
          c.insert(asked[i].key, responses[i], now);
        } else {
          Hit h = c.lookup(asked[i].key, asked[i].query, asked[i].wire, out, now);
          if (h.length > 0) {
            hits.fetch_add(1, std::memory_order_relaxed);
            auto info = dns::inspectResponse(std::span<const uint8_t>(out.data(), h.length));
            if (!info || info->id != static_cast<uint16_t>(i) ||
                !dns::sameQuestion(asked[i].wire, std::span<const uint8_t>(out.data(), h.length))) {
              bad.fetch_add(1);
            }
          }
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(hits.load(), 1000);
  auto st = c.stats();
  EXPECT_LE(st.success_entries, 256u + 16u);
  EXPECT_LE(st.bytes, p.max_bytes);
}

// The open-addressing index under churn: one shard (long probe clusters at up to 3/4 load),
// random inserts, erases, evictions and expiries, checked against a model after every step.
TEST(Cache, IndexMatchesModelUnderChurn) {
  CachePolicy p;
  p.success_capacity = 3000;  // < the names used: inserts evict the LRU entry too
  Cache c(p, 1);
  constexpr size_t kNames = 4000;
  std::vector<Asked> asked;
  std::vector<Bytes> answers;
  for (size_t i = 0; i < kNames; ++i) {
    const std::string name = "n" + std::to_string(i) + ".churn.example";
    asked.push_back(ask(name));
    answers.push_back(positive(name, 60));
  }
  std::vector<bool> present(kNames, false);
  std::vector<size_t> lru;  // model LRU of the present names, most recent last
  auto touch = [&](size_t i) {
    std::erase(lru, i);
    lru.push_back(i);
  };
  std::mt19937 rng(42);
  Bytes out(4096);
  for (int step = 0; step < 20000; ++step) {
    const size_t i = rng() % kNames;
    const unsigned op = rng() % 8;
    if (op < 4) {
      ASSERT_EQ(c.insert(asked[i].key, answers[i], kT0), InsertResult::kStored);
      present[i] = true;
      touch(i);
      if (lru.size() > p.success_capacity) {
        present[lru.front()] = false;
        lru.erase(lru.begin());
      }
    } else if (op < 6) {
      c.erase(asked[i].key);
      present[i] = false;
      std::erase(lru, i);
    } else {
      Hit h = c.lookup(asked[i].key, asked[i].query, asked[i].wire, out, kT0 + 1s);
      ASSERT_EQ(h.outcome, present[i] ? Outcome::kFresh : Outcome::kMiss) << "step " << step;
      if (present[i]) {
        touch(i);
      }
    }
    ASSERT_EQ(c.entries(false), lru.size()) << "step " << step;
  }
  for (size_t i = 0; i < kNames; ++i) {
    Hit h = c.lookup(asked[i].key, asked[i].query, asked[i].wire, out, kT0 + 1s);
    ASSERT_EQ(h.outcome, present[i] ? Outcome::kFresh : Outcome::kMiss) << "name " << i;
  }
  // Expiry removes entries on lookup; everything left afterwards is gone from the index too.
  for (size_t i = 0; i < kNames; ++i) {
    EXPECT_EQ(c.lookup(asked[i].key, asked[i].query, asked[i].wire, out, kT0 + 61s).outcome,
              Outcome::kMiss);
  }
  EXPECT_EQ(c.entries(false), 0u);
  EXPECT_EQ(c.bytes(), 0u);
  c.clear();
  ASSERT_EQ(c.insert(asked[0].key, answers[0], kT0), InsertResult::kStored);
  EXPECT_EQ(c.lookup(asked[0].key, asked[0].query, asked[0].wire, out, kT0).outcome,
            Outcome::kFresh);
}

}  // namespace
}  // namespace nld::resolver::cache
