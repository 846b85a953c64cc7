#include "resolver/metrics/metrics.h"

#include <array>
#include <cinttypes>
#include <cstdio>

namespace nld::resolver::metrics {
namespace {

constexpr std::array<const char*, kTypeCount> kTypeLabels = {
    "A",      "AAAA",  "MX",   "SOA",   "CNAME", "PTR",  "TXT",  "NS",  "SRV",  "DS",
    "DNSKEY", "RRSIG", "NSEC", "NSEC3", "HTTPS", "IXFR", "AXFR", "ANY", "other"};
constexpr std::array<uint16_t, kTypeCount - 1> kTypeCodes = {1,  28, 15, 6,  5,  12, 16,  2,   33,
                                                             43, 48, 46, 47, 50, 65, 251, 252, 255};

constexpr std::array<const char*, kRcodeCount> kRcodeLabels = {
    "NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED",
    "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE", "RCODE11",
    "RCODE12",  "RCODE13", "RCODE14",  "RCODE15",  "BADVERS"};

constexpr const char* kPluginLabels[kPluginCount] = {"cache", "forward", "", "hosts", "template"};

// Upper bounds in nanoseconds and as text.
constexpr uint64_t boundNs(size_t k) { return 250000ULL << k; }
constexpr std::array<const char*, kBuckets> kBucketText = {
    "0.00025", "0.0005", "0.001", "0.002", "0.004", "0.008", "0.016", "0.032",
    "0.064",   "0.128",  "0.256", "0.512", "1.024", "2.048", "4.096", "8.192"};

constexpr std::array<uint64_t, kSizeBuckets> kSizeBounds = {
    0, 100, 200, 300, 400, 511, 1023, 2047, 4095, 8291, 16000, 32000, 48000, 64000};
constexpr std::array<const char*, kSizeBuckets> kSizeBucketText = {
    "0",    "100",  "200",  "300",   "400",   "511",   "1023",
    "2047", "4095", "8291", "16000", "32000", "48000", "64000"};

class Out {
 public:
  void family(const char* name, const char* type, const char* help) {
    text_ += "# HELP ";
    text_ += name;
    text_ += ' ';
    text_ += help;
    text_ += "\n# TYPE ";
    text_ += name;
    text_ += ' ';
    text_ += type;
    text_ += '\n';
  }
  void sample(const std::string& name, const std::string& labels, uint64_t value) {
    text_ += name;
    if (!labels.empty()) {
      text_ += '{';
      text_ += labels;
      text_ += '}';
    }
    text_ += ' ';
    text_ += std::to_string(value);
    text_ += '\n';
  }
  void sampleSeconds(const std::string& name, const std::string& labels, uint64_t ns) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(ns) / 1e9);
    text_ += name + '{' + labels + "} " + buf + '\n';
  }
  // Cumulative buckets, +Inf and _count from the per-bucket counts (`bounds` texts, then one
  // overflow count); `sum` is written by the caller's flavour below.
  template <size_t N>
  uint64_t buckets(const std::string& name, const std::string& labels,
                   const std::array<const char*, N>& bounds, const uint64_t* counts) {
    uint64_t cumulative = 0;
    for (size_t k = 0; k < N; ++k) {
      cumulative += counts[k];
      sample(name + "_bucket", labels + ",le=\"" + bounds[k] + "\"", cumulative);
    }
    cumulative += counts[N];
    sample(name + "_bucket", labels + ",le=\"+Inf\"", cumulative);
    return cumulative;
  }
  void histogram(const std::string& name, const std::string& labels, const uint64_t* counts,
                 uint64_t sum_ns) {
    uint64_t count = buckets(name, labels, kBucketText, counts);
    sampleSeconds(name + "_sum", labels, sum_ns);
    sample(name + "_count", labels, count);
  }
  void sizeHistogram(const std::string& name, const std::string& labels, const uint64_t* counts,
                     uint64_t sum) {
    uint64_t count = buckets(name, labels, kSizeBucketText, counts);
    sample(name + "_sum", labels, sum);
    sample(name + "_count", labels, count);
  }
  std::string take() { return std::move(text_); }

 private:
  std::string text_;
};

std::string lbl(const char* key, const std::string& value) {
  return std::string(key) + "=\"" + escapeLabel(value) + "\"";
}

}  // namespace

size_t typeIndex(uint16_t qtype) noexcept {
  for (size_t i = 0; i < kTypeCodes.size(); ++i) {
    if (kTypeCodes[i] == qtype) {
      return i;
    }
  }
  return kTypeCount - 1;
}
const char* typeLabel(size_t index) noexcept {
  return index < kTypeCount ? kTypeLabels[index] : "other";
}
const char* rcodeLabel(size_t index) noexcept {
  return index < kRcodeCount ? kRcodeLabels[index] : "BADVERS";
}

void Histogram::observe(uint64_t ns) noexcept {
  size_t k = 0;
  while (k < kBuckets && ns > boundNs(k)) {
    ++k;
  }
  buckets[k].inc();
  sum_ns.inc(ns);
}

void SizeHistogram::observe(size_t bytes) noexcept {
  size_t k = 0;
  while (k < kSizeBuckets && bytes > kSizeBounds[k]) {
    ++k;
  }
  buckets[k].inc();
  sum.inc(bytes);
}

std::string escapeLabel(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

Registry::Registry(unsigned workers)
    : workers_(workers == 0 ? 1 : workers),
      rejects_(new Counter[workers_]),
      in_flight_rejects_(new Counter[workers_]),
      healthcheck_broken_(new Counter[workers_]),
      tcp_(new TcpStats[workers_]) {}

const char* tcpCloseLabel(size_t index) noexcept {
  static constexpr const char* kLabels[kTcpCloseCount] = {"idle", "query_timeout", "write_timeout",
                                                          "memory", "evicted"};
  return index < kTcpCloseCount ? kLabels[index] : "";
}

const char* tcpPauseLabel(size_t index) noexcept {
  static constexpr const char* kLabels[kTcpPauseCount] = {"output", "in_flight", "memory"};
  return index < kTcpPauseCount ? kLabels[index] : "";
}

ZoneStats* Registry::zone(const std::string& server, const std::string& zone) {
  std::lock_guard lock(mutex_);
  auto& slot = zones_[{server, zone}];
  if (!slot) {
    slot.reset(new ZoneStats[workers_]);
  }
  return slot.get();
}

CacheStats* Registry::cache(const std::string& server, const std::string& zones) {
  std::lock_guard lock(mutex_);
  auto& slot = caches_[{server, zones}];
  if (!slot) {
    slot.reset(new CacheStats[workers_]);
  }
  return slot.get();
}

UpstreamStats* Registry::upstream(const std::string& to) {
  std::lock_guard lock(mutex_);
  auto& slot = upstreams_[to];
  if (!slot) {
    slot.reset(new UpstreamStats[workers_]);
  }
  return slot.get();
}

std::string Registry::render(const std::vector<CacheGauge>& caches, const std::string& version,
                             const std::vector<PluginEnabled>& plugins) const {
  std::lock_guard lock(mutex_);
  Out out;
  const unsigned w = workers_;
  auto sum = [w](auto&& get) {
    uint64_t s = 0;
    for (unsigned i = 0; i < w; ++i) {
      s += get(i);
    }
    return s;
  };
  auto zoneLabels = [](const std::pair<std::string, std::string>& k) {
    return lbl("server", k.first) + "," + lbl("zone", k.second) + ",view=\"\"";
  };

  out.family("coredns_build_info", "gauge",
             "A metric with a constant '1' value labeled by version, revision, and goversion from "
             "which CoreDNS was built.");
  out.sample("coredns_build_info",
             lbl("version", version) + ",revision=\"\",goversion=\"none (C++)\"", 1);

  out.family("coredns_dns_requests_total", "counter",
             "Counter of DNS requests made per zone, "
             "protocol and family.");
  for (const auto& kv : zones_) {
    const auto& k = kv.first;
    const auto* s = kv.second.get();
    for (size_t p = 0; p < 2; ++p) {
      for (size_t f = 0; f < 2; ++f) {
        for (size_t t = 0; t < kTypeCount; ++t) {
          uint64_t v = sum([&](unsigned i) { return s[i].requests[p][f][t].get(); });
          if (v > 0) {
            out.sample("coredns_dns_requests_total",
                       zoneLabels(k) + ",proto=\"" + (p == 0 ? "udp" : "tcp") + "\",family=\"" +
                           (f == 0 ? "1" : "2") + "\",type=\"" + kTypeLabels[t] + "\"",
                       v);
          }
        }
      }
    }
  }

  out.family("coredns_dns_responses_total", "counter", "Counter of response status codes.");
  for (const auto& kv : zones_) {
    const auto& k = kv.first;
    const auto* s = kv.second.get();
    for (size_t p = 0; p < kPluginCount; ++p) {
      for (size_t r = 0; r < kRcodeCount; ++r) {
        uint64_t v = sum([&](unsigned i) { return s[i].responses[p][r].get(); });
        if (v > 0) {
          out.sample("coredns_dns_responses_total",
                     zoneLabels(k) + ",rcode=\"" + kRcodeLabels[r] + "\",plugin=\"" +
                         kPluginLabels[p] + "\"",
                     v);
        }
      }
    }
  }

  out.family("coredns_dns_request_duration_seconds", "histogram",
             "Histogram of the time (in seconds) each request took per zone.");
  for (const auto& kv : zones_) {
    const auto& k = kv.first;
    const auto* s = kv.second.get();
    for (size_t t = 0; t < kTypeCount; ++t) {
      uint64_t b[kBuckets + 1];
      uint64_t total = 0;
      for (size_t j = 0; j <= kBuckets; ++j) {
        b[j] = sum([&](unsigned i) { return s[i].duration[t].buckets[j].get(); });
        total += b[j];
      }
      if (total > 0) {
        out.histogram("coredns_dns_request_duration_seconds",
                      zoneLabels(k) + ",type=\"" + kTypeLabels[t] + "\"", b,
                      sum([&](unsigned i) { return s[i].duration[t].sum_ns.get(); }));
      }
    }
  }

  for (int which = 0; which < 2; ++which) {
    const char* name =
        which == 0 ? "coredns_dns_request_size_bytes" : "coredns_dns_response_size_bytes";
    out.family(name, "histogram",
               which == 0
                   ? "Size of the EDNS0 UDP buffer in bytes (64K for TCP) per zone and protocol."
                   : "Size of the returned response in bytes.");
    for (const auto& kv : zones_) {
      const auto* s = kv.second.get();
      for (size_t p = 0; p < 2; ++p) {
        auto field = [&](unsigned i) -> const SizeHistogram& {
          return which == 0 ? s[i].request_size[p] : s[i].response_size[p];
        };
        uint64_t b[kSizeBuckets + 1];
        uint64_t total = 0;
        for (size_t j = 0; j <= kSizeBuckets; ++j) {
          b[j] = sum([&](unsigned i) { return field(i).buckets[j].get(); });
          total += b[j];
        }
        if (total > 0) {
          out.sizeHistogram(name,
                            zoneLabels(kv.first) + ",proto=\"" + (p == 0 ? "udp" : "tcp") + "\"", b,
                            sum([&](unsigned i) { return field(i).sum.get(); }));
        }
      }
    }
  }

  out.family("coredns_dns_do_requests_total", "counter",
             "Counter of DNS requests with DO bit set per zone.");
  for (const auto& kv : zones_) {
    const auto* s = kv.second.get();
    uint64_t v = sum([&](unsigned i) { return s[i].do_requests.get(); });
    if (v > 0) {
      out.sample("coredns_dns_do_requests_total", zoneLabels(kv.first), v);
    }
  }

  // CoreDNS counts recovered panics of a plugin; we have no panics to recover (no exceptions on
  // the data plane, bounds-checked parsing): constant 0.
  out.family("coredns_panics_total", "counter", "A metrics that counts the number of panics.");
  out.sample("coredns_panics_total", "", 0);

  out.family("coredns_plugin_enabled", "gauge",
             "A metric that indicates whether a plugin is enabled on per server and zone basis.");
  for (const auto& p : plugins) {
    out.sample(
        "coredns_plugin_enabled",
        lbl("server", p.server) + "," + lbl("zone", p.zone) + ",view=\"\"," + lbl("name", p.name),
        1);
  }

  auto cacheLabels = [](const std::string& server, const std::string& zones) {
    return lbl("server", server) + "," + lbl("zones", zones) + ",view=\"\"";
  };
  out.family("coredns_cache_entries", "gauge", "The number of elements in the cache.");
  for (const auto& g : caches) {
    out.sample("coredns_cache_entries", cacheLabels(g.server, g.zones) + ",type=\"success\"",
               g.entries[0]);
    out.sample("coredns_cache_entries", cacheLabels(g.server, g.zones) + ",type=\"denial\"",
               g.entries[1]);
  }
  out.family("coredns_cache_evictions_total", "counter", "The count of cache evictions.");
  for (const auto& g : caches) {
    out.sample("coredns_cache_evictions_total",
               cacheLabels(g.server, g.zones) + ",type=\"success\"", g.evictions[0]);
    out.sample("coredns_cache_evictions_total", cacheLabels(g.server, g.zones) + ",type=\"denial\"",
               g.evictions[1]);
  }
  out.family("coredns_cache_hits_total", "counter", "The count of cache hits.");
  for (const auto& kv : caches_) {
    const auto& k = kv.first;
    const auto* s = kv.second.get();
    for (size_t t = 0; t < 2; ++t) {
      out.sample(
          "coredns_cache_hits_total",
          cacheLabels(k.first, k.second) + ",type=\"" + (t == 0 ? "success" : "denial") + "\"",
          sum([&](unsigned i) { return s[i].hits[t].get(); }));
    }
  }
  struct Plain {
    const char* name;
    const char* help;
    Counter CacheStats::*field;
  };
  const Plain plain[] = {
      {"coredns_cache_misses_total",
       "The count of cache misses. Deprecated, derive misses from "
       "cache hits/requests counters.",
       &CacheStats::misses},
      {"coredns_cache_requests_total", "The count of cache requests.", &CacheStats::requests},
      {"coredns_cache_served_stale_total",
       "The number of requests served from stale cache "
       "entries.",
       &CacheStats::served_stale},
      {"coredns_cache_prefetch_total",
       "The number of times the cache has prefetched a cached "
       "item.",
       &CacheStats::prefetch},
  };
  for (const auto& p : plain) {
    out.family(p.name, "counter", p.help);
    for (const auto& kv : caches_) {
      const auto& k = kv.first;
      const auto* s = kv.second.get();
      out.sample(p.name, cacheLabels(k.first, k.second),
                 sum([&](unsigned i) { return (s[i].*(p.field)).get(); }));
    }
  }
  // CoreDNS's cache drops an answer whose question does not match the query. Ours never sees
  // one: the forwarder refuses such an answer (and fails over) before the cache: constant 0.
  out.family("coredns_cache_drops_total", "counter",
             "The number responses that are not cached, because the reply is malformed.");
  for (const auto& kv : caches_) {
    out.sample("coredns_cache_drops_total", cacheLabels(kv.first.first, kv.first.second), 0);
  }

  out.family("coredns_proxy_request_duration_seconds", "histogram",
             "Histogram of the time each request took.");
  for (const auto& kv : upstreams_) {
    const auto& to = kv.first;
    const auto* s = kv.second.get();
    for (size_t r = 0; r < kRcodeCount; ++r) {
      uint64_t b[kBuckets + 1];
      uint64_t total = 0;
      for (size_t j = 0; j <= kBuckets; ++j) {
        b[j] = sum([&](unsigned i) { return s[i].duration[r].buckets[j].get(); });
        total += b[j];
      }
      if (total > 0) {
        out.histogram(
            "coredns_proxy_request_duration_seconds",
            "proxy_name=\"forward\"," + lbl("to", to) + ",rcode=\"" + kRcodeLabels[r] + "\"", b,
            sum([&](unsigned i) { return s[i].duration[r].sum_ns.get(); }));
      }
    }
  }
  out.family("coredns_proxy_healthcheck_failures_total", "counter",
             "Count of failed health checks per upstream.");
  for (const auto& kv : upstreams_) {
    const auto& to = kv.first;
    const auto* s = kv.second.get();
    out.sample("coredns_proxy_healthcheck_failures_total",
               "proxy_name=\"forward\"," + lbl("to", to) + ",rcode=\"\"",
               sum([&](unsigned i) { return s[i].healthcheck_failures.get(); }));
  }
  for (int hit = 1; hit >= 0; --hit) {
    const char* name =
        hit ? "coredns_proxy_conn_cache_hits_total" : "coredns_proxy_conn_cache_misses_total";
    out.family(name, "counter",
               hit ? "Counter of connection cache hits per upstream and protocol."
                   : "Counter of connection cache misses per upstream and protocol.");
    for (const auto& kv : upstreams_) {
      const auto* s = kv.second.get();
      for (size_t p = 0; p < 2; ++p) {
        out.sample(name,
                   "proxy_name=\"forward\"," + lbl("to", kv.first) + ",proto=\"" +
                       (p == 0 ? "udp" : "tcp") + "\"",
                   sum([&](unsigned i) {
                     return (hit ? s[i].conn_cache_hits[p] : s[i].conn_cache_misses[p]).get();
                   }));
      }
    }
  }
  out.family("coredns_forward_healthcheck_broken_total", "counter",
             "Counter of the number of complete failures of the healthchecks.");
  out.sample("coredns_forward_healthcheck_broken_total", "",
             sum([&](unsigned i) { return healthcheck_broken_[i].get(); }));
  out.family("coredns_forward_max_concurrent_rejects_total", "counter",
             "Counter of the number of queries rejected because the concurrent queries were at "
             "maximum.");
  out.sample("coredns_forward_max_concurrent_rejects_total", "",
             sum([&](unsigned i) { return rejects_[i].get(); }));
  out.family("nodelocaldns_forward_inflight_rejects_total", "counter",
             "Queries answered SERVFAIL at once because their worker already had "
             "--max-upstream-queries upstream queries in flight.");
  out.sample("nodelocaldns_forward_inflight_rejects_total", "",
             sum([&](unsigned i) { return in_flight_rejects_[i].get(); }));

  // [side][reason] counters of the per-worker TcpStats.
  auto tcpFamily = [&](const char* name, const char* help, size_t reasons,
                       const char* (*label)(size_t), auto counter) {
    static constexpr const char* kSides[2] = {"client", "upstream"};
    out.family(name, "counter", help);
    for (size_t side = 0; side < 2; ++side) {
      for (size_t r = 0; r < reasons; ++r) {
        out.sample(name, std::string("side=\"") + kSides[side] + "\",reason=\"" + label(r) + "\"",
                   sum([&](unsigned i) { return counter(tcp_[i], side, r).get(); }));
      }
    }
  };
  tcpFamily(
      "nodelocaldns_tcp_closed_total",
      "TCP connections closed by a limit (side client or upstream; reason idle, "
      "query_timeout, write_timeout, memory, evicted).",
      kTcpCloseCount, tcpCloseLabel,
      [](const TcpStats& t, size_t side, size_t r) -> const Counter& { return t.closed[side][r]; });
  tcpFamily(
      "nodelocaldns_tcp_paused_total",
      "Times a TCP client connection stopped reading, or an upstream connection refused a "
      "query, at a limit (reason output, in_flight, memory).",
      kTcpPauseCount, tcpPauseLabel,
      [](const TcpStats& t, size_t side, size_t r) -> const Counter& { return t.paused[side][r]; });
  out.family("nodelocaldns_tcp_buffered_bytes", "gauge",
             "Bytes held by the buffers of TCP connections (client and upstream), all workers.");
  out.sample("nodelocaldns_tcp_buffered_bytes", "",
             sum([&](unsigned i) { return tcp_[i].buffered_bytes.get(); }));
  return out.take();
}

}  // namespace nld::resolver::metrics
