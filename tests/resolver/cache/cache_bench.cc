// Micro-benchmark (not a test): ns per parseQuery, makeKey, inspectResponse, cache hit
// (lookup + copy into the client's buffer) and insert, plus the cache's accounted bytes and the
// process RSS growth for 10k entries. Build: target resolver_cache_bench; run it on an idle CPU:
//   taskset -c 1 ./resolver_cache_bench
#include <time.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "resolver/cache/cache.h"
#include "resolver/dns/builder.h"
#include "resolver/dns/message.h"
#include "resolver/dns/rr_walk.h"
#include "tests/resolver/dns/msg_builder.h"

namespace {

using namespace nld::resolver;
using Clock = std::chrono::steady_clock;

template <typename T>
void keep(T&& v) {
  asm volatile("" : : "g"(&v) : "memory");
}

// Thread CPU time, not wall time: the build machine is shared, and time spent descheduled is
// not ours.
double threadCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

template <typename Fn>
double nsPerOp(size_t iterations, Fn&& fn) {
  for (size_t i = 0; i < iterations / 10; ++i) {  // warm-up
    fn(i);
  }
  const double t0 = threadCpuNs();
  for (size_t i = 0; i < iterations; ++i) {
    fn(i);
  }
  return (threadCpuNs() - t0) / static_cast<double>(iterations);
}

long rssKiB() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stol(line.substr(6));
    }
  }
  return -1;
}

struct Item {
  nld::test::Bytes query;
  dns::Query parsed;
  cache::CacheKey key;
  nld::test::Bytes response;
};

}  // namespace

int main() {
  using nld::test::Msg;
  constexpr size_t kN = 10000;
  std::vector<Item> items(kN);
  for (size_t i = 0; i < kN; ++i) {
    const std::string name = "svc" + std::to_string(i) + ".default.svc.cluster.local";
    Item& it = items[i];
    it.query = Msg().id(static_cast<uint16_t>(i)).rd().question(name, 1).edns(1232).wire();
    it.parsed = *dns::parseQuery(it.query);
    it.key = *cache::makeKey(it.parsed, it.query);
    it.response =
        Msg::replyTo(name, 1)
            .compress()
            .answer(name, 1, 30,
                    nld::test::ipv4(10, 96, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)))
            .edns(1232)
            .wire();
  }
  const auto& q0 = items[0].query;
  std::printf("query %zu bytes, response %zu bytes\n", q0.size(), items[0].response.size());

  const double parse = nsPerOp(5'000'000, [&](size_t) {
    auto q = dns::parseQuery(q0);
    keep(q);
  });
  const double key = nsPerOp(5'000'000, [&](size_t) {
    auto k = cache::makeKey(items[0].parsed, q0);
    keep(k);
  });
  const double inspect = nsPerOp(5'000'000, [&](size_t) {
    auto r = dns::inspectResponse(items[0].response);
    keep(r);
  });

  const long rss0 = rssKiB();
  cache::CachePolicy policy;
  policy.success_capacity = 2 * kN;  // room for all: measure hits, not evictions
  cache::Cache cache(policy, 64);
  const auto t = cache::TimePoint{} + std::chrono::hours(1);
  const double ins0 = threadCpuNs();
  for (auto& it : items) {
    cache.insert(it.key, it.response, t);
  }
  const double insert = (threadCpuNs() - ins0) / kN;
  const long rss1 = rssKiB();

  std::vector<uint8_t> out(4096);
  size_t misses = 0;
  const double hit = nsPerOp(10'000'000, [&](size_t i) {
    const Item& it = items[(i * 7919) % kN];
    auto h = cache.lookup(it.key, it.parsed, it.query, out, t + std::chrono::seconds(1));
    misses += h.outcome == cache::Outcome::kMiss;
    keep(h);
  });
  const double full = nsPerOp(5'000'000, [&](size_t i) {
    // The whole per-query hit path: parse, key, lookup + copy, fit to the client's size.
    const Item& it = items[(i * 7919) % kN];
    auto q = dns::parseQuery(it.query);
    auto k = cache::makeKey(*q, it.query);
    auto h = cache.lookup(*k, *q, it.query, out, t + std::chrono::seconds(1));
    size_t n = dns::truncateToFit(out, h.length, q->udpLimit());
    keep(n);
  });

  // Two threads hitting the same cache (shard locks only).
  std::vector<std::thread> threads;
  std::vector<double> per_thread(2);
  for (int th = 0; th < 2; ++th) {
    threads.emplace_back([&, th] {
      std::vector<uint8_t> buf(4096);
      per_thread[static_cast<size_t>(th)] = nsPerOp(5'000'000, [&](size_t i) {
        const Item& it = items[(i * 7919 + static_cast<size_t>(th) * 13) % kN];
        auto h = cache.lookup(it.key, it.parsed, it.query, buf, t + std::chrono::seconds(1));
        keep(h);
      });
    });
  }
  for (auto& th : threads) {
    th.join();
  }

  std::printf("parseQuery            %7.1f ns\n", parse);
  std::printf("makeKey               %7.1f ns\n", key);
  std::printf("inspectResponse       %7.1f ns\n", inspect);
  std::printf("cache insert          %7.1f ns (10k distinct names)\n", insert);
  std::printf("cache hit (lookup+copy) %5.1f ns (1 thread, 10k entries, misses %zu)\n", hit,
              misses);
  std::printf("hit path parse+key+lookup+fit %5.1f ns\n", full);
  std::printf("cache hit, 2 threads  %7.1f / %.1f ns per op per thread\n", per_thread[0],
              per_thread[1]);
  std::printf("10k entries: cache accounts %zu bytes (%.0f B/entry); RSS +%ld KiB\n", cache.bytes(),
              static_cast<double>(cache.bytes()) / kN, rss1 - rss0);
  return 0;
}
