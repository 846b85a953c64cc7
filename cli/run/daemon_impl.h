// Internal to cli/run/ (no other folder includes it): the `run` daemon's state, one class whose
// members are defined by concern, in the order daemon.h describes them:
//   daemon.cc         start-up (signals, interface, listeners, pidfile, first rules), runDaemon()
//   sync_loop.cc      the control loop: signals, link events, debounced reloads, periodic sync
//   config_source.cc  which Corefile is served; rendering it with the kube-dns ConfigMap; parsing
//   rules_keeper.cc   the rules backend (flag, detected, re-detected); ensuring our rules
//   health.cc         /health and /ready (watchdog probe, --health-cache), /metrics
//   shutdown.cc       hand-over or teardown, the bounded drain, a second signal's forced exit
// One control thread runs it all but health.cc's handlers (the HTTP thread; see server_mutex_).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/fd.h"
#include "cli/run/daemon.h"
#include "cli/run/http.h"
#include "cli/run/metrics.h"
#include "cli/run/watch.h"
#include "netcfg/netcfg.h"
#include "resolver/config/config.h"
#include "resolver/resolver.h"

namespace nld::cli::daemon_detail {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kReloadDebounce{150};
constexpr milliseconds kLinkRetry{1000};

// Test hook (sync_loop.cc).
int wedgeSignal();

// Path helpers (config_source.cc).
bool isFile(const std::string& path);
std::string dirOf(const std::string& path);
std::string baseName(const std::string& path);
/// True if a server block has the `reload` plugin (coredns_reload_version_info is set then).
bool hasReloadPlugin(const resolver::config::Config& config);

enum class Source : uint8_t { kBase, kConfAsIs, kBuiltin };

class Daemon {
 public:
  explicit Daemon(const RunConfig& cfg) : cfg_(cfg) {}
  Result<int> run();

 private:
  Result<void> startUp();
  Result<void> blockSignals();
  Result<void> setUpInterface();
  void chooseSource();
  Result<void> watchConfigDirs();
  Result<std::string> renderText();
  /// parseCorefile() as parse() calls it, without logging the notes.
  Result<resolver::config::Config> parseQuiet(const std::string& text) const;
  Result<resolver::config::Config> parse(const std::string& text);
  std::vector<SocketAddress> httpAddresses(const resolver::config::Config& config) const;
  void reload(const char* why);
  void ensureInterface(bool count_check);
  void ensureRulesNow();
  void chooseRulesBackend();
  void redetectRulesBackend();
  void removeOtherBackendRules();
  netcfg::RulesOptions rulesOptions() const;
  int shutdown(int signo);
  std::optional<int> pendingStopSignal();
  std::optional<int> drainUnlessForced();
  bool removeInterfaceOnTeardown(bool teardown);
  [[noreturn]] void forcedExit(int signo, bool teardown);
  HttpResponse handleHttp(const std::string& path);
  bool healthy();
  bool probeHealthy();

  RunConfig cfg_;
  RunMetrics metrics_;
  Source source_ = Source::kBuiltin;
  std::string text_;                                         // the Corefile text being served
  std::optional<resolver::config::KubeDnsConfig> kube_dns_;  // last valid one
  // Orders this thread's control calls on server_ with the drain thread's. The HTTP thread never
  // takes it: server_ is set before the HTTP server starts and outlives it, and the calls the
  // handlers make (probe, progress, upstreamReachable, renderMetrics) are safe beside the
  // control calls (resolver.h), so a slow probe never delays a reload or the shutdown.
  std::mutex server_mutex_;
  std::unique_ptr<resolver::Server> server_;
  std::atomic<bool> wedged_{false};
  // The last health probe (HTTP thread only): reused for cfg_.health_cache from its start.
  std::optional<Clock::time_point> health_at_;
  bool health_ok_ = false;
  std::unique_ptr<HttpServer> http_;
  std::atomic<bool> http_stopping_{false};
  std::unique_ptr<netcfg::LinkWatcher> link_watcher_;
  std::unique_ptr<DirWatcher> dir_watcher_;
  Fd signal_fd_;
  std::optional<Clock::time_point> reload_at_, link_retry_at_;
  Clock::time_point next_sync_;
  bool pidfile_written_ = false;
  netcfg::RulesBackend backend_ = netcfg::RulesBackend::kIptables;
  bool other_backend_warned_ = false;
  // `auto` found no signal and fell back to iptables: detect again at every sync until a signal
  // appears (a pod started before kube-proxy/kubelet made their hint chains must not stay on
  // legacy on an nftables node for its whole life).
  bool backend_by_default_ = false;
  // `auto` decided by rule counts only (step 4b): detect again at every sync too, but move only
  // for a stronger signal (kube-proxy, a hint chain, our table), never because a count changed,
  // so our rules do not flap between backends while other agents add and delete theirs.
  bool backend_by_count_ = false;
};

}  // namespace nld::cli::daemon_detail
