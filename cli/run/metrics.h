// `run`'s own Prometheus metrics: node-cache's coredns_nodecache_setup_errors_total{errortype}
// (the five labels pre-set to 0, spec §9), coredns_reload_failed_total,
// coredns_reload_version_info, the health plugin's coredns_health_request_duration_seconds and
// _failures_total, build info and the process_* family. The resolver's metrics come from
// resolver::Server::renderMetrics().
//
// Threading: counters are atomics, bumped from the control thread (setup, reload) or the HTTP
// thread (health), read by the HTTP thread; the Corefile hash is behind a mutex.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace nld::cli {

enum class SetupError : uint8_t {
  kIptables,
  kIptablesLock,
  kInterfaceAdd,
  kInterfaceCheck,
  kConfigmap
};

/// The errortype label value: "iptables", "iptables_lock", "interface_add", "interface_check",
/// "configmap".
std::string_view toString(SetupError e);

class RunMetrics {
 public:
  void count(SetupError e) { setup_errors_[static_cast<size_t>(e)].fetch_add(1); }
  void countReloadFailure() { reload_failed_.fetch_add(1); }
  void countReload() { reloads_.fetch_add(1); }
  /// The Corefile now served: coredns_reload_version_info{hash="sha512",value=<hex of text>} 1,
  /// present only while a block has the `reload` plugin (as CoreDNS's reload plugin sets it).
  void setCorefile(std::string_view text, bool reload_plugin);
  /// One /health request: how long answering it took, and whether it answered 200.
  void observeHealth(std::chrono::nanoseconds took, bool ok);

  /// Text exposition of our metrics. `resolver_text` is what the server rendered: build info is
  /// added only if it has none.
  std::string render(std::string_view resolver_text) const;

 private:
  std::array<std::atomic<uint64_t>, 5> setup_errors_{};
  std::atomic<uint64_t> reload_failed_{0};
  std::atomic<uint64_t> reloads_{0};
  /// CoreDNS plugin.SlimTimeBuckets: 0.00025 s · 10^k, k = 0..4, then +Inf.
  static constexpr size_t kHealthBuckets = 5;
  std::array<std::atomic<uint64_t>, kHealthBuckets + 1> health_buckets_{};
  std::atomic<uint64_t> health_sum_ns_{0};
  std::atomic<uint64_t> health_failures_{0};
  mutable std::mutex corefile_mutex_;
  std::string corefile_sha512_;  // "" = no reload plugin (no sample)
};

}  // namespace nld::cli
