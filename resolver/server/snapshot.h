// Snapshot: the immutable, pre-digested form of a config::Config the workers serve from —
// listeners, per-listener routing tables (longest zone first, lower-cased wire names), and per
// block its cache, forward group and metric slots. Built on the control thread; shared read-only
// by every worker through std::shared_ptr<const Snapshot> (swapped atomically on reload).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/ip.h"
#include "base/result.h"
#include "resolver/cache/cache.h"
#include "resolver/cache/cache_scope.h"
#include "resolver/config/config.h"
#include "resolver/forward/upstream.h"
#include "resolver/metrics/metrics.h"
#include "resolver/plugins/hosts.h"
#include "resolver/plugins/template.h"
#include "resolver/server/query_log.h"

namespace nld::resolver::server {

struct RouteZone {
  std::array<uint8_t, 255> wire{};  ///< lower-cased wire name of the zone
  uint8_t length = 0;
  uint8_t labels = 0;
  uint16_t block = 0;
  metrics::ZoneStats* stats = nullptr;  ///< (server of this listener, zone)
};

struct BlockRuntime {
  const config::ServerBlock* config = nullptr;
  std::shared_ptr<cache::Cache> cache;             ///< null without `cache`
  cache::CacheScope cache_scope;                   ///< `cache ZONES` and `disable ...`
  std::shared_ptr<forward::ForwardGroup> forward;  ///< null without `forward`
  /// Answering plugins after the cache (CoreDNS order: template, hosts); null without them, and
  /// then the query path pays one branch on a cache miss (Worker::answerFromPlugins).
  std::shared_ptr<plugins::Templates> templates;
  std::shared_ptr<plugins::Hosts> hosts;
  bool has_plugins = false;
  std::string cache_signature;  ///< equal → the cache is kept across reloads
  std::string zones_label;      ///< "cluster.local." / "in-addr.arpa. ip6.arpa."
  /// `forward FROM` and `except` zones, lower-cased wire form; forwarded only if the name is
  /// under FROM and under no EXCEPT zone (CoreDNS: otherwise the next plugin — none — SERVFAIL).
  std::vector<uint8_t> forward_from;
  std::vector<std::vector<uint8_t>> forward_except;
  /// `log` rules with their NAMES in lower-cased wire form, in config order (CoreDNS: the first
  /// rule whose names match a query decides). Empty without `log`.
  struct LogRuntime {
    const config::LogRule* rule = nullptr;
    std::vector<std::vector<uint8_t>> zones;
  };
  std::vector<LogRuntime> log_rules;
  /// `errors { consolidate ... }` rules, compiled (shared with workers' pending summaries).
  std::vector<std::shared_ptr<const ConsolidateRule>> consolidate;
  /// Per worker (each touches only its own slot): which rule (index + 1, 0 = none) an error text
  /// matched. The texts are few (failure kind × upstream) and the patterns operator-written
  /// std::regex, so each text is matched once, not once per failed query. Capped at 256 texts.
  mutable std::vector<std::unordered_map<std::string, uint32_t>> consolidate_memo;

  bool forwards(const uint8_t* name_lower, size_t name_length) const noexcept;
};

struct Snapshot {
  config::Config config;
  uint64_t generation = 0;
  std::vector<SocketAddress> listeners;    ///< unique address:port (wildcards for unbound blocks)
  std::vector<std::string> server_labels;  ///< "dns://169.254.20.10:53" per listener
  std::vector<std::vector<RouteZone>> routes;  ///< per listener, longest zone first
  std::vector<BlockRuntime> blocks;
  /// cache_stats[listener][block] (null when the block has no cache or is not on the listener)
  std::vector<std::vector<metrics::CacheStats*>> cache_stats;
  std::vector<std::shared_ptr<forward::ForwardGroup>> groups;
  /// Per listener: the zone="dropped" slots (queries no block takes; CoreDNS vars.Dropped).
  std::vector<metrics::ZoneStats*> dropped_stats;
  /// coredns_plugin_enabled samples: blocks with `prometheus`, per listen host and zone.
  std::vector<metrics::PluginEnabled> plugins_enabled;

  /// The route for a lower-cased query name on a listener, or nullptr (→ REFUSED).
  const RouteZone* route(size_t listener, const uint8_t* name_lower,
                         size_t name_length) const noexcept;
};

/// Builds a snapshot; caches of blocks whose zones/port/cache config are unchanged and upstream
/// health state of unchanged addresses are taken over from `previous` (may be null).
Result<std::shared_ptr<const Snapshot>> buildSnapshot(config::Config config,
                                                      const Snapshot* previous,
                                                      metrics::Registry& registry,
                                                      size_t cache_max_bytes, unsigned workers);

}  // namespace nld::resolver::server
