// Resolver metrics: per-worker counters, summed on scrape, rendered as Prometheus text with
// CoreDNS's names, label formats and buckets (node-cache-spec.md §9; CoreDNS plugin/metrics/vars):
// requests, responses, durations, request/response sizes, DO requests per (server, zone) —
// zone="dropped" for queries no block takes — cache and upstream families, and
// coredns_plugin_enabled from the current config. coredns_panics_total and
// coredns_cache_drops_total are constant 0 (no panics: no exceptions on the data plane; an answer
// whose question does not match is refused by the forwarder before it reaches the cache).
//
// Threading: every counter array has one slot per worker; only that worker writes its slot
// (relaxed load+store: no locked instruction on the packet path); render() reads all slots with
// relaxed loads from any thread. Slots are created on the control thread (Registry::zone() etc.,
// under a mutex) and never freed while the Registry lives, so workers keep raw pointers across
// config reloads and counters never reset. Label sets are bounded: server × zone from the config,
// the fixed type list, rcodes 0..15 + BADVERS, upstream addresses from the config.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

namespace nld::resolver::metrics {

/// CoreDNS's fixed `type` label values; everything else is "other".
inline constexpr size_t kTypeCount = 19;
size_t typeIndex(uint16_t qtype) noexcept;
const char* typeLabel(size_t index) noexcept;

/// rcode label index: 0..15 as is, 16 for anything larger (BADVERS...).
inline constexpr size_t kRcodeCount = 17;
inline size_t rcodeIndex(unsigned rcode) noexcept { return rcode < 16 ? rcode : 16; }
const char* rcodeLabel(size_t index) noexcept;

/// CoreDNS plugin.TimeBuckets: 0.25 ms · 2^k, k = 0..15 (0.00025 s .. 8.192 s).
inline constexpr size_t kBuckets = 16;

/// `plugin` label: "cache", "forward", "", "hosts", "template".
enum class Plugin : uint8_t { kCache, kForward, kNone, kHosts, kTemplate };
inline constexpr size_t kPluginCount = 5;

class Counter {
 public:
  void inc(uint64_t n = 1) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }
  /// Gauge use (the owning worker only).
  void set(uint64_t v) noexcept { v_.store(v, std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

struct Histogram {
  Counter buckets[kBuckets + 1];  // last = +Inf only
  Counter sum_ns;
  void observe(uint64_t ns) noexcept;
};

/// CoreDNS's size buckets for coredns_dns_request_size_bytes / response_size_bytes:
/// 0, 100, 200, 300, 400, 511, 1023, 2047, 4095, 8291, 16e3, 32e3, 48e3, 64e3 (+Inf).
inline constexpr size_t kSizeBuckets = 14;

struct SizeHistogram {
  Counter buckets[kSizeBuckets + 1];  // last = +Inf only
  Counter sum;
  void observe(size_t bytes) noexcept;
};

/// Per (server, zone), per worker. Zone "dropped" (CoreDNS vars.Dropped) counts queries that
/// matched no server block on the listener.
struct alignas(64) ZoneStats {
  Counter requests[2][2][kTypeCount];  // [proto udp/tcp][family 1/2][type]
  Counter responses[kPluginCount][kRcodeCount];
  Histogram duration[kTypeCount];
  SizeHistogram request_size[2];   // [proto]: the query's length in bytes (CoreDNS req.Len())
  SizeHistogram response_size[2];  // [proto]: bytes written to the client
  Counter do_requests;             // queries with the EDNS DO bit
};

/// CoreDNS's zone label for queries no server block takes.
inline constexpr const char* kDroppedZone = "dropped";

/// One coredns_plugin_enabled{server, zone, view, name} sample (value 1).
struct PluginEnabled {
  std::string server, zone, name;
  friend bool operator<(const PluginEnabled& a, const PluginEnabled& b) {
    return std::tie(a.server, a.zone, a.name) < std::tie(b.server, b.zone, b.name);
  }
  friend bool operator==(const PluginEnabled& a, const PluginEnabled& b) = default;
};

/// Per (server, cache zones), per worker.
struct alignas(64) CacheStats {
  Counter hits[2];  // success, denial
  Counter misses, requests, served_stale, prefetch;
};

/// Per upstream (`to`), per worker.
struct alignas(64) UpstreamStats {
  Histogram duration[kRcodeCount];
  Counter healthcheck_failures;
  /// coredns_proxy_conn_cache_{hits,misses}_total{proto}, [0] udp, [1] tcp: a query sent on the
  /// open TCP connection is a hit, one that opened it a miss; every UDP attempt is a miss (a
  /// fresh socket per attempt, forwarder.h).
  Counter conn_cache_hits[2];
  Counter conn_cache_misses[2];
};

/// Why a TCP connection was closed by a limit (nodelocaldns_tcp_closed_total{reason}).
enum class TcpClose : uint8_t {
  kIdle,          ///< no complete query (client) or no use (upstream) for the idle timeout
  kQueryTimeout,  ///< a query (or the first one) not complete within the query timeout
  kWriteTimeout,  ///< queued output not written for the idle timeout (peer does not read)
  kMemory,        ///< the worker's TCP buffer bound: the connection holding most is closed
  kEvicted,       ///< the connection cap: the least recently useful one made room
};
inline constexpr size_t kTcpCloseCount = 5;
const char* tcpCloseLabel(size_t index) noexcept;
/// Why a TCP connection stopped reading (client) or refused a query (upstream).
enum class TcpPause : uint8_t {
  kOutput,    ///< queued output above the high watermark
  kInFlight,  ///< the connection's queries in flight at the cap
  kMemory,    ///< the worker's TCP buffer bound (upstream: query failed over)
};
inline constexpr size_t kTcpPauseCount = 3;
const char* tcpPauseLabel(size_t index) noexcept;

/// Per worker: the TCP limits at work. side 0 = client connections, 1 = upstream connections.
struct alignas(64) TcpStats {
  Counter closed[2][kTcpCloseCount];
  Counter paused[2][kTcpPauseCount];
  Counter buffered_bytes;  ///< a gauge: bytes held by the worker's TCP buffers (set, not added)
  void close(bool upstream, TcpClose why) noexcept {
    closed[upstream ? 1 : 0][static_cast<size_t>(why)].inc();
  }
  void pause(bool upstream, TcpPause why) noexcept {
    paused[upstream ? 1 : 0][static_cast<size_t>(why)].inc();
  }
};

/// Gauges read from the caches at scrape time.
struct CacheGauge {
  std::string server, zones;
  uint64_t entries[2] = {0, 0};    // success, denial
  uint64_t evictions[2] = {0, 0};  // success, denial
};

class Registry {
 public:
  explicit Registry(unsigned workers);

  /// Stable per-worker arrays (index = worker), created on first use. Control thread only.
  ZoneStats* zone(const std::string& server, const std::string& zone);
  CacheStats* cache(const std::string& server, const std::string& zones);
  UpstreamStats* upstream(const std::string& to);
  Counter* maxConcurrentRejects() noexcept { return rejects_.get(); }
  /// Queries answered SERVFAIL at once because their worker had --max-upstream-queries in flight.
  Counter* inFlightRejects() noexcept { return in_flight_rejects_.get(); }
  /// Forward queries that found every upstream of their block down
  /// (coredns_forward_healthcheck_broken_total).
  Counter* healthcheckBroken() noexcept { return healthcheck_broken_.get(); }
  TcpStats* tcp() noexcept { return tcp_.get(); }

  unsigned workers() const noexcept { return workers_; }

  /// Prometheus text format 0.0.4, # HELP and # TYPE for every family. `plugins`: the
  /// coredns_plugin_enabled samples of the current config (CoreDNS resets them on reload).
  std::string render(const std::vector<CacheGauge>& caches, const std::string& version,
                     const std::vector<PluginEnabled>& plugins = {}) const;

 private:
  unsigned workers_;
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<ZoneStats[]>> zones_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<CacheStats[]>> caches_;
  std::map<std::string, std::unique_ptr<UpstreamStats[]>> upstreams_;
  std::unique_ptr<Counter[]> rejects_;
  std::unique_ptr<Counter[]> in_flight_rejects_;
  std::unique_ptr<Counter[]> healthcheck_broken_;
  std::unique_ptr<TcpStats[]> tcp_;
};

/// Prometheus label value escaping (\\, \", \n).
std::string escapeLabel(const std::string& value);

}  // namespace nld::resolver::metrics
