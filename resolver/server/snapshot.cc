#include "resolver/server/snapshot.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "base/strings.h"
#include "resolver/dns/name.h"

namespace nld::resolver::server {
namespace {

std::string cacheSignature(const config::ServerBlock& b) {
  if (!b.cache) {
    return "";
  }
  const auto& c = *b.cache;
  std::string s = std::to_string(b.port);
  for (const auto& z : b.zones) {
    s += " " + z;
  }
  s += "|" + std::to_string(c.success_capacity) + "," + std::to_string(c.success_max_ttl) + "," +
       std::to_string(c.success_min_ttl) + "," + std::to_string(c.denial_capacity) + "," +
       std::to_string(c.denial_max_ttl) + "," + std::to_string(c.denial_min_ttl) + "," +
       std::to_string(c.servfail_ttl.count()) + "," + std::to_string(c.prefetch) + "," +
       std::to_string(c.prefetch_amount) + "," + std::to_string(c.prefetch_duration.count()) + "," +
       std::to_string(c.prefetch_percentage) + "," + std::to_string(c.serve_stale) + "," +
       std::to_string(c.stale_duration.count()) + "," + std::to_string(c.stale_verify) + "," +
       std::to_string(c.keepttl);
  // Scope changes start a fresh cache: entries stored under the old scope may be disallowed now.
  auto list = [&s](const char* tag, const std::vector<std::string>& zones) {
    s += tag;
    for (const auto& z : zones) {
      s += " " + z;
    }
  };
  list("|zones", c.zones);
  list("|no-success", c.success_disabled_zones);
  list("|no-denial", c.denial_disabled_zones);
  return s;
}

cache::CachePolicy toPolicy(const config::CacheConfig& c, size_t max_bytes) {
  cache::CachePolicy p;
  p.success_capacity = c.success_capacity;
  p.success_max_ttl = c.success_max_ttl;
  p.success_min_ttl = c.success_min_ttl;
  p.denial_capacity = c.denial_capacity;
  p.denial_max_ttl = c.denial_max_ttl;
  p.denial_min_ttl = c.denial_min_ttl;
  p.servfail_ttl = c.servfail_ttl;
  p.keep_ttl = c.keepttl;
  p.prefetch.enabled = c.prefetch;
  p.prefetch.amount = c.prefetch_amount;
  p.prefetch.duration = c.prefetch_duration;
  p.prefetch.percentage = c.prefetch_percentage;
  p.serve_stale.enabled = c.serve_stale;
  p.serve_stale.duration = c.stale_duration;
  p.serve_stale.verify = c.stale_verify;
  p.max_bytes = max_bytes;
  return p;
}

std::string serverLabel(const SocketAddress& a) {
  if (a.ip.isUnspecified()) {
    return "dns://:" + std::to_string(a.port);
  }
  return "dns://" + a.ip.toUrlHost() + ":" + std::to_string(a.port);
}

}  // namespace

bool BlockRuntime::forwards(const uint8_t* name, size_t name_length) const noexcept {
  if (!dns::nameIsUnder(name, name_length, forward_from.data(), forward_from.size())) {
    return false;
  }
  for (const auto& e : forward_except) {
    if (dns::nameIsUnder(name, name_length, e.data(), e.size())) {
      return false;
    }
  }
  return true;
}

const RouteZone* Snapshot::route(size_t listener, const uint8_t* name,
                                 size_t name_length) const noexcept {
  if (listener >= routes.size()) {
    return nullptr;
  }
  // Label start offsets of the query name: a zone matches if it equals a suffix starting at one.
  uint16_t starts[128];
  size_t count = 0;
  for (size_t pos = 0; pos < name_length && count < 128;) {
    starts[count++] = static_cast<uint16_t>(pos);
    uint8_t len = name[pos];
    if (len == 0) {
      break;
    }
    pos += 1 + len;
  }
  for (const auto& z : routes[listener]) {  // longest first
    if (z.length > name_length) {
      continue;
    }
    size_t off = name_length - z.length;
    bool boundary = false;
    for (size_t i = 0; i < count; ++i) {
      if (starts[i] == off) {
        boundary = true;
        break;
      }
    }
    if (boundary && std::memcmp(name + off, z.wire.data(), z.length) == 0) {
      return &z;
    }
  }
  return nullptr;
}

Result<std::shared_ptr<const Snapshot>> buildSnapshot(config::Config config,
                                                      const Snapshot* previous,
                                                      metrics::Registry& registry,
                                                      size_t cache_max_bytes, unsigned workers) {
  auto snap = std::make_shared<Snapshot>();
  snap->config = std::move(config);
  snap->generation = previous ? previous->generation + 1 : 1;
  const auto& blocks = snap->config.blocks;

  // Listeners: the bind addresses of each block (wildcards when it has none) × its port.
  for (const auto& b : blocks) {
    std::vector<IpAddress> addrs = b.bind;
    if (addrs.empty()) {
      addrs.push_back(IpAddress());
      addrs.push_back(*IpAddress::parse("::"));
    }
    for (const auto& ip : addrs) {
      SocketAddress sa{ip, b.port};
      if (std::find(snap->listeners.begin(), snap->listeners.end(), sa) == snap->listeners.end()) {
        snap->listeners.push_back(sa);
        snap->server_labels.push_back(serverLabel(sa));
      }
    }
  }

  // Upstream state and caches carried over from the previous snapshot.
  std::map<std::string, std::shared_ptr<forward::UpstreamState>> old_upstreams;
  std::map<std::string, std::shared_ptr<cache::Cache>> old_caches;
  if (previous != nullptr) {
    for (const auto& g : previous->groups) {
      for (const auto& u : g->upstreams) {
        old_upstreams[u->label] = u;
      }
    }
    for (const auto& b : previous->blocks) {
      if (b.cache) {
        old_caches[b.cache_signature] = b.cache;
      }
    }
  }
  size_t caching_blocks = 0;
  for (const auto& b : blocks) {
    caching_blocks += b.cache ? 1 : 0;
  }
  size_t per_cache_bytes = cache_max_bytes / std::max<size_t>(caching_blocks, 1);

  for (const auto& b : blocks) {
    BlockRuntime rt;
    rt.config = &b;
    rt.zones_label = join(b.zones, " ");
    if (b.cache) {
      auto scope = cache::CacheScope::create(b.cache->zones, b.cache->success_disabled_zones,
                                             b.cache->denial_disabled_zones);
      if (!scope) {
        return fail(std::move(scope.error())
                        .withContext(b.file + ":" + std::to_string(b.line) + ": cache"));
      }
      rt.cache_scope = std::move(*scope);
      rt.cache_signature = cacheSignature(b);
      auto it = old_caches.find(rt.cache_signature);
      if (it != old_caches.end()) {
        rt.cache = it->second;
        old_caches.erase(it);
      } else {
        unsigned shards = std::max(4u * workers, 16u);
        rt.cache = std::make_shared<cache::Cache>(toPolicy(*b.cache, per_cache_bytes), shards);
      }
    }
    for (const auto& c : b.errors_consolidate) {
      auto rule = std::make_shared<ConsolidateRule>();
      try {
        rule->re = std::regex(c.pattern, std::regex::ECMAScript | std::regex::optimize);
      } catch (const std::regex_error& e) {
        return fail(Errc::kInvalidArgument, b.file + ":" + std::to_string(b.line) +
                                                ": errors consolidate: invalid regexp '" +
                                                c.pattern + "': " + e.what());
      }
      rule->pattern = c.pattern;
      rule->period = c.period;
      rule->period_text = config::formatGoDuration(c.period);
      rule->level = c.level == "debug"     ? ConsolidateRule::Level::kDebug
                    : c.level == "info"    ? ConsolidateRule::Level::kInfo
                    : c.level == "warning" ? ConsolidateRule::Level::kWarning
                                           : ConsolidateRule::Level::kError;
      rt.consolidate.push_back(std::move(rule));
    }
    if (!rt.consolidate.empty()) {
      rt.consolidate_memo.resize(workers);
    }
    for (const auto& rule : b.log_rules) {
      BlockRuntime::LogRuntime lr;
      lr.rule = &rule;
      for (const auto& z : rule.zones) {
        auto w = dns::lowerNameFromText(z);
        if (w.empty()) {
          return fail(Errc::kInvalidArgument, "invalid log zone '" + z + "'");
        }
        lr.zones.push_back(std::move(w));
      }
      rt.log_rules.push_back(std::move(lr));
    }
    if (!b.templates.empty()) {
      auto t = plugins::Templates::create(b.templates);
      if (!t) {
        return fail(std::move(t.error()).withContext(b.file + ":" + std::to_string(b.line)));
      }
      rt.templates = std::move(*t);
      rt.has_plugins = true;
    }
    if (b.hosts) {
      // An unreadable file serves the inline entries; not logged yet (CoreDNS warns once).
      rt.hosts = plugins::Hosts::create(*b.hosts);
      rt.has_plugins = true;
    }
    if (b.forward) {
      auto g = std::make_shared<forward::ForwardGroup>();
      g->config = *b.forward;
      for (const auto& to : b.forward->to) {
        auto label = to.toString();
        // An upstream of the old snapshot keeps its state, and its stats: workers still read
        // them (writing the same pointer again raced with them, found by TSan on reloads under
        // load). The registry's slot for a label never changes.
        auto it = old_upstreams.find(label);
        std::shared_ptr<forward::UpstreamState> u;
        if (it != old_upstreams.end()) {
          u = it->second;
        } else {
          u = std::make_shared<forward::UpstreamState>(to);
          u->stats = registry.upstream(label);
        }
        g->upstreams.push_back(std::move(u));
      }
      if (g->upstreams.size() > 15) {
        return fail(Errc::kInvalidArgument,
                    b.file + ":" + std::to_string(b.line) + ": more than 15 upstreams");
      }
      rt.forward = g;
      rt.forward_from = dns::lowerNameFromText(b.forward->from.empty() ? "." : b.forward->from);
      if (rt.forward_from.empty()) {
        return fail(Errc::kInvalidArgument, "invalid forward zone '" + b.forward->from + "'");
      }
      for (const auto& e : b.forward->except) {
        auto w = dns::lowerNameFromText(e);
        if (!w.empty()) {
          rt.forward_except.push_back(std::move(w));
        }
      }
      snap->groups.push_back(std::move(g));
    }
    snap->blocks.push_back(std::move(rt));
  }

  snap->routes.resize(snap->listeners.size());
  for (const auto& label : snap->server_labels) {
    snap->dropped_stats.push_back(registry.zone(label, metrics::kDroppedZone));
  }
  // CoreDNS sets coredns_plugin_enabled from the prometheus plugin's setup, for every listen host
  // of the block and every handler in its chain (bind, reload, health are not handlers).
  std::set<metrics::PluginEnabled> enabled;
  for (const auto& b : blocks) {
    if (!b.prometheus) {
      continue;
    }
    std::vector<std::string> servers;
    if (b.bind.empty()) {
      servers.push_back("dns://:" + std::to_string(b.port));
    }
    for (const auto& ip : b.bind) {
      servers.push_back(serverLabel(SocketAddress{ip, b.port}));
    }
    std::vector<std::string> names = {"prometheus"};
    if (b.errors) {
      names.push_back("errors");
    }
    if (b.log) {
      names.push_back("log");
    }
    if (b.cache) {
      names.push_back("cache");
    }
    if (b.loop) {
      names.push_back("loop");
    }
    if (!b.templates.empty()) {
      names.push_back("template");
    }
    if (b.hosts) {
      names.push_back("hosts");
    }
    if (b.forward) {
      names.push_back("forward");
    }
    for (const auto& server : servers) {
      for (const auto& z : b.zones) {
        for (const auto& n : names) {
          enabled.insert({server, z, n});
        }
      }
    }
  }
  snap->plugins_enabled.assign(enabled.begin(), enabled.end());
  snap->cache_stats.assign(snap->listeners.size(),
                           std::vector<metrics::CacheStats*>(blocks.size(), nullptr));
  for (size_t li = 0; li < snap->listeners.size(); ++li) {
    const auto& l = snap->listeners[li];
    for (size_t bi = 0; bi < blocks.size(); ++bi) {
      const auto& b = blocks[bi];
      if (b.port != l.port) {
        continue;
      }
      bool on = b.bind.empty() ? l.ip.isUnspecified()
                               : std::find(b.bind.begin(), b.bind.end(), l.ip) != b.bind.end();
      if (!on) {
        continue;
      }
      if (b.cache) {
        snap->cache_stats[li][bi] =
            registry.cache(snap->server_labels[li], snap->blocks[bi].zones_label);
      }
      for (const auto& z : b.zones) {
        RouteZone rz;
        size_t n = dns::nameFromText(z, rz.wire);
        if (n == 0) {
          return fail(Errc::kInvalidArgument, "invalid zone '" + z + "'");
        }
        for (size_t i = 0; i < n; ++i) {
          rz.wire[i] = dns::asciiLower(rz.wire[i]);
        }
        rz.length = static_cast<uint8_t>(n);
        rz.block = static_cast<uint16_t>(bi);
        rz.stats = registry.zone(snap->server_labels[li], z);
        snap->routes[li].push_back(rz);
      }
    }
    std::stable_sort(snap->routes[li].begin(), snap->routes[li].end(),
                     [](const RouteZone& a, const RouteZone& b) { return a.length > b.length; });
  }
  return std::shared_ptr<const Snapshot>(std::move(snap));
}

}  // namespace nld::resolver::server
