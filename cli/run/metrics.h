// `run`'s own Prometheus metrics: node-cache's coredns_nodecache_setup_errors_total{errortype}
// (the five labels pre-set to 0, spec §9), coredns_reload_failed_total, build info and the
// process_* family. The resolver's metrics come from resolver::Server::renderMetrics().
//
// Threading: counters are atomics, bumped from the control thread, read by the HTTP thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
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

  /// Text exposition of our metrics. `resolver_text` is what the server rendered: build info is
  /// added only if it has none.
  std::string render(std::string_view resolver_text) const;

 private:
  std::array<std::atomic<uint64_t>, 5> setup_errors_{};
  std::atomic<uint64_t> reload_failed_{0};
  std::atomic<uint64_t> reloads_{0};
};

}  // namespace nld::cli
