#include "cli/run/daemon.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "base/atomic_file.h"
#include "base/log.h"
#include "cli/run/caps.h"
#include "cli/run/http.h"
#include "cli/run/metrics.h"
#include "cli/run/process.h"
#include "cli/run/watch.h"
#include "netcfg/netcfg.h"
#include "resolver/config/config.h"

namespace nld::cli {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kReloadDebounce{150};
constexpr milliseconds kLinkRetry{1000};
constexpr milliseconds kProbeTimeout{1000};
// Exit code after a second stop signal cut the shutdown short: 128 + its number, as a shell
// reports a command a signal ended (130 for SIGINT, 143 for SIGTERM), like install's interrupt.
int forcedExitCode(int signo) { return 128 + signo; }

bool isFile(const std::string& path) {
  struct stat st {};
  return !path.empty() && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string dirOf(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) {
    return ".";
  }
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string baseName(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Test hook (NLD_TEST_HOOKS=1): this signal stops the DNS workers but keeps the process, HTTP
// and the sync loop running, so a test can watch /health turn red.
int wedgeSignal() { return SIGRTMIN + 1; }

// Test hook (NLD_TEST_HOOKS=1, NLD_TEST_PROBE_DELAY_MS=n): every health probe first waits n ms,
// so a test can check that reload and shutdown do not wait for a probe.
milliseconds testProbeDelay() {
  static const milliseconds delay = [] {
    const char* hooks = std::getenv("NLD_TEST_HOOKS");
    const char* ms = std::getenv("NLD_TEST_PROBE_DELAY_MS");
    return hooks != nullptr && ms != nullptr ? milliseconds(std::atoll(ms)) : milliseconds(0);
  }();
  return delay;
}

enum class Source : uint8_t { kBase, kConfAsIs, kBuiltin };

class Daemon {
 public:
  explicit Daemon(const RunConfig& cfg) : cfg_(cfg) {}
  Result<int> run();

 private:
  Result<void> startUp();
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

Result<std::string> Daemon::renderText() {
  std::string base;
  std::string base_name;
  if (isFile(cfg_.base_corefile)) {
    source_ = Source::kBase;
    auto text = readFile(cfg_.base_corefile);
    if (!text) {
      return fail(std::move(text.error()));
    }
    base = std::move(*text);
    base_name = cfg_.base_corefile;
  } else if (source_ == Source::kConfAsIs) {
    return readFile(cfg_.conf);
  } else {
    base = defaultBaseCorefile(cfg_.health_port);
  }
  namespace rc = resolver::config;
  const std::optional<rc::KubeDnsConfig> previous = kube_dns_;
  auto invalidConfigMap = [&](const std::string& why) {
    metrics_.count(SetupError::kConfigmap);
    // Errors of a key already name the ConfigMap, the key and its file.
    const bool named = why.rfind("kube-dns ConfigMap", 0) == 0;
    NLD_LOG(kConfig, warn, "{}{}, {}",
            named ? "" : "invalid kube-dns ConfigMap in '" + cfg_.kube_dns_dir + "': ", why,
            previous ? "keeping the previous one" : "ignoring it");
  };
  if (!cfg_.kube_dns_dir.empty()) {
    auto kd = rc::loadKubeDnsConfigDir(cfg_.kube_dns_dir);
    if (kd) {
      for (const auto& note : kd->notes) {
        NLD_LOG(kConfig, info, "kube-dns ConfigMap '{}': {}", cfg_.kube_dns_dir, note);
      }
      kube_dns_ = std::move(*kd);
    } else if (kd.error().code() == Errc::kNotFound) {
      kube_dns_ = rc::KubeDnsConfig{};  // optional volume: no ConfigMap
    } else {
      invalidConfigMap(kd.error().message());
    }
  }
  rc::SubstitutionParams params;
  params.local_ips = cfg_.local_ips;
  params.port = cfg_.dns_port;
  params.prometheus_endpoint = cfg_.prometheus_endpoint;
  if (kube_dns_) {
    params.kube_dns = *kube_dns_;
  }
  std::string env = serviceHostEnvName(cfg_.upstream_svc);
  if (const char* v = std::getenv(env.c_str()); v != nullptr && *v != '\0') {
    auto ip = IpAddress::parse(v);
    if (ip) {
      params.cluster_dns = *ip;
    } else {
      NLD_LOG(kConfig, warn, "${}='{}' is not an IP address, ignoring", env, v);
    }
  }
  auto out = rc::renderRuntimeCorefile(base, params);
  const bool new_config_map = kube_dns_ && !kube_dns_->version.empty() &&
                              (!previous || previous->version != kube_dns_->version);
  if (out && new_config_map && !parseQuiet(*out)) {
    // A ConfigMap that validates must also give a Corefile that parses. When only its blocks
    // break it, the ConfigMap is what is invalid (counted and named so), not the base Corefile
    // (whose line numbers the parse error would quote): serve without it.
    rc::SubstitutionParams without = params;
    without.kube_dns = previous ? *previous : rc::KubeDnsConfig{};
    auto fallback = rc::renderRuntimeCorefile(base, without);
    if (fallback && parseQuiet(*fallback)) {
      auto error = parseQuiet(*out).error().message();
      kube_dns_ = previous;
      invalidConfigMap("kube-dns ConfigMap in '" + cfg_.kube_dns_dir +
                       "': the Corefile blocks it gives do not parse (" + error + ")");
      out = std::move(fallback);
    }
  }
  if (!out) {
    std::string msg = out.error().message();
    if (!params.cluster_dns && msg.find("CLUSTER") != std::string::npos) {
      msg += " (set $" + env + ", the ClusterIP of Service '" + cfg_.upstream_svc + "')";
    }
    return fail(out.error().code(),
                "render '" + (base_name.empty() ? std::string("built-in Corefile") : base_name) +
                    "': " + msg);
  }
  return out;
}

Result<resolver::config::Config> Daemon::parseQuiet(const std::string& text) const {
  resolver::config::ParseOptions opts;
  opts.default_port = cfg_.dns_port;
  opts.own_addresses = cfg_.local_ips;
  // Errors name the file the user edits (line numbers of the rendered text match the base
  // except below a rewritten force_tcp block).
  std::string name = source_ == Source::kBuiltin ? "built-in Corefile"
                     : source_ == Source::kBase  ? cfg_.base_corefile
                                                 : cfg_.conf;
  return resolver::config::parseCorefile(text, name, opts);
}

Result<resolver::config::Config> Daemon::parse(const std::string& text) {
  auto config = parseQuiet(text);
  if (config) {
    for (const auto& b : config->blocks) {
      for (const auto& note : b.notes) {
        NLD_LOG(kConfig, info, "{}:{}: {}", b.file, b.line, note);
      }
      if (b.forward) {
        for (const auto& note : b.forward->notes) {
          NLD_LOG(kConfig, info, "{}:{}: {}", b.file, b.line, note);
        }
      }
    }
  }
  return config;
}

std::vector<SocketAddress> Daemon::httpAddresses(const resolver::config::Config& config) const {
  std::vector<SocketAddress> out;
  auto add = [&](const SocketAddress& a) {
    if (std::find(out.begin(), out.end(), a) == out.end()) {
      out.push_back(a);
    }
  };
  for (const auto& b : config.blocks) {
    if (b.health) {
      add(*b.health);
    }
  }
  for (const auto& b : config.blocks) {
    if (b.prometheus) {
      add(*b.prometheus);
    }
  }
  if (cfg_.metrics_listen) {
    add(*cfg_.metrics_listen);
  }
  return out;
}

void Daemon::ensureInterface(bool count_check) {
  if (!cfg_.setup_interface) {
    return;
  }
  if (count_check) {
    if (auto obs = netcfg::observeLink(cfg_.interface_name); !obs) {
      metrics_.count(SetupError::kInterfaceCheck);
      NLD_LOG(kNetcfg, warn, "check interface '{}': {}", cfg_.interface_name,
              obs.error().message());
    }
  }
  netcfg::LinkSpec spec{cfg_.interface_name, cfg_.link_kind, cfg_.local_ips};
  auto r = netcfg::ensureLink(spec);
  if (!r) {
    metrics_.count(SetupError::kInterfaceAdd);
    NLD_LOG(kNetcfg, warn, "ensure interface '{}': {}, retrying in {}ms", cfg_.interface_name,
            r.error().message(), kLinkRetry.count());
    link_retry_at_ = Clock::now() + kLinkRetry;
    return;
  }
  link_retry_at_.reset();
  if (!r->unchanged()) {
    std::string added;
    for (const auto& p : r->added) {
      added += (added.empty() ? "" : ",") + p.toString();
    }
    NLD_LOG(kNetcfg, info, "interface '{}' restored: created={} kind={} added=[{}] up={}",
            cfg_.interface_name, r->created, netcfg::toString(r->kind), added, r->brought_up);
  }
}

netcfg::RulesOptions Daemon::rulesOptions() const {
  netcfg::RulesOptions opts;
  opts.backend = backend_;
  opts.lock_path = cfg_.xtables_lock;
  return opts;
}

// Once at start-up: the backend (flag, else detected), logged with the deciding signal.
void Daemon::chooseRulesBackend() {
  if (!cfg_.setup_iptables) {
    return;
  }
  if (cfg_.rules_backend) {
    backend_ = *cfg_.rules_backend;
    NLD_LOG(kRules, info, "rules backend {} (--rules-backend)", netcfg::toString(backend_));
  } else {
    auto d = netcfg::detectRulesBackend();
    backend_ = d.backend;
    backend_by_default_ = d.by_default;
    backend_by_count_ = d.by_rule_count;
    NLD_LOG(kRules, info, "rules backend {} (auto: {})", netcfg::toString(backend_), d.signal);
  }
}

// While `auto` had nothing to go on: a signal that appears later decides (rule counts included),
// and the next ensure moves our rules (ensure in the new backend, then the old one's copies are
// removed). While it had only rule counts: only a stronger signal moves us. (nftables chosen by
// counts is then kept by our own table, step 4, once the first ensure made it.)
void Daemon::redetectRulesBackend() {
  if (!backend_by_default_ && !backend_by_count_) {
    return;
  }
  auto d = netcfg::detectRulesBackend();
  if (d.by_default || (d.by_rule_count && backend_by_count_)) {
    return;
  }
  backend_by_default_ = false;
  backend_by_count_ = d.by_rule_count;
  if (d.backend != backend_) {
    NLD_LOG(kRules, info, "rules backend {} (auto, now: {}); moving our rules from {}",
            netcfg::toString(d.backend), d.signal, netcfg::toString(backend_));
    backend_ = d.backend;
    other_backend_warned_ = false;
  }
}

// After every ensure, so the node never has both backends: our rules in the other one go (a node
// that switched, or a predecessor still running the other backend during a hand-over re-adding
// them). Legacy tables that do not exist are not created. One read when there is nothing to do.
void Daemon::removeOtherBackendRules() {
  if (!cfg_.setup_iptables) {
    return;
  }
  netcfg::RuleSpec spec{cfg_.local_ips, cfg_.dns_port, cfg_.health_port};
  netcfg::RulesOptions other = rulesOptions();
  other.backend = netcfg::otherBackend(backend_);
  other.only_existing_tables = true;
  // Read first (no xtables lock): removing takes the lock, which kube-proxy may hold for seconds.
  auto present = netcfg::checkRules(spec, other);
  bool any = present && std::any_of(present->begin(), present->end(),
                                    [](const netcfg::RuleStatus& s) { return s.copies > 0; });
  auto r = present && !any ? Result<netcfg::RulesReport>(netcfg::RulesReport{})
                           : netcfg::removeRules(spec, other);
  if (!r) {
    // Once at warn (an unreadable other backend usually stays so), then at debug.
    if (!other_backend_warned_) {
      NLD_LOG(kRules, warn, "remove our {} rules: {}, ignoring", netcfg::toString(other.backend),
              r.error().message());
    } else {
      NLD_LOG(kRules, debug, "remove our {} rules: {}, ignoring", netcfg::toString(other.backend),
              r.error().message());
    }
    other_backend_warned_ = true;
  } else if (r->removed > 0) {
    NLD_LOG(kRules, info, "removed {} of our rules from the {} backend (not in use)", r->removed,
            netcfg::toString(other.backend));
  }
}

void Daemon::ensureRulesNow() {
  if (!cfg_.setup_iptables) {
    return;
  }
  redetectRulesBackend();
  netcfg::RuleSpec spec{cfg_.local_ips, cfg_.dns_port, cfg_.health_port};
  auto r = netcfg::ensureRules(spec, rulesOptions());
  if (r) {
    // Only once ours are in: removing the other backend's copies after a failed ensure (say, a
    // kernel without nf_tables) would leave DNS to the local address going through conntrack.
    removeOtherBackendRules();
  }
  if (!r) {
    bool lock = r.error().code() == Errc::kBusy;
    metrics_.count(lock ? SetupError::kIptablesLock : SetupError::kIptables);
    NLD_LOG(kRules, warn, "ensure rules: {}, retrying in {}ms", r.error().message(),
            cfg_.sync_interval.count());
    return;
  }
  if (r->inserted > 0 || r->duplicates_removed > 0 || r->tables_rewritten > 0) {
    NLD_LOG(kRules, info, "rules ensured: inserted={} duplicates_removed={} present={}{}",
            r->inserted, r->duplicates_removed, r->already_present,
            r->tables_rewritten > 0 ? " (nftables table rewritten)" : "");
  }
}

// HTTP thread. A result younger than --health-cache answers (kubelet, a load balancer and
// Prometheus may all ask each second; a flood of /health requests costs one probe a second).
bool Daemon::healthy() {
  if (wedged_.load()) {
    return false;
  }
  auto now = Clock::now();
  if (health_at_ && now - *health_at_ < cfg_.health_cache) {
    return health_ok_;
  }
  health_ok_ = probeHealthy();
  health_at_ = now;
  return health_ok_;
}

bool Daemon::probeHealthy() {
  if (testProbeDelay().count() > 0) {
    // NLD_TEST_HOOKS: a probe as slow as one to a stuck worker; cut short when the HTTP server
    // stops, so only reload and shutdown timing is under test.
    NLD_LOG(kMetrics, info, "test hook: health probe delayed {}ms", testProbeDelay().count());
    auto until = Clock::now() + testProbeDelay();
    while (Clock::now() < until && !http_stopping_.load()) {
      std::this_thread::sleep_for(milliseconds(10));
    }
  }
  // Watchdog: the probe must be answered AND our workers' packet counter must have moved (the
  // probe's own query counts), so an answer from another instance's socket in the SO_REUSEPORT
  // group does not make a wedged one look healthy. Each probe uses a new source port, i.e. a new
  // hash into the group: a few tries find one of our sockets when two instances share it.
  for (int attempt = 0; attempt < 4; ++attempt) {
    uint64_t before = server_->progress();
    if (!server_->probe(kProbeTimeout)) {
      return false;
    }
    if (server_->progress() > before) {
      return true;
    }
  }
  return false;
}

HttpResponse Daemon::handleHttp(const std::string& path) {
  if (path == "/health") {
    return healthy() ? HttpResponse{200, "text/plain; charset=utf-8", "OK"}
                     : HttpResponse{503, "text/plain; charset=utf-8",
                                    "DNS serving loop not "
                                    "answering\n"};
  }
  if (path == "/ready") {
    if (!healthy()) {
      return {503, "text/plain; charset=utf-8", "DNS serving loop not answering\n"};
    }
    if (!server_->upstreamReachable()) {
      return {503, "text/plain; charset=utf-8", "no upstream reachable\n"};
    }
    return {200, "text/plain; charset=utf-8", "OK"};
  }
  if (path == "/metrics") {
    std::string text = server_->renderMetrics();
    text += metrics_.render(text);
    return {200, "text/plain; version=0.0.4; charset=utf-8", std::move(text)};
  }
  return {404, "text/plain; charset=utf-8", "not found (try /health, /ready, /metrics)\n"};
}

Result<void> Daemon::startUp() {
  // Every thread (workers, HTTP) inherits this mask, so signals arrive only through signalfd.
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2}) {
    sigaddset(&set, s);
  }
  if (std::getenv("NLD_TEST_HOOKS") != nullptr) {
    sigaddset(&set, wedgeSignal());
  }
  // The DNS workers' wake signal (resolver::UdpWait): blocked here, so a process-directed one
  // cannot interrupt a syscall in this or the HTTP thread; each worker unblocks it for itself.
  sigset_t blocked = set;
  sigaddset(&blocked, SIGURG);
  if (::pthread_sigmask(SIG_BLOCK, &blocked, nullptr) != 0) {
    return failSys(errno, "block signals");
  }
  ::signal(SIGPIPE, SIG_IGN);
  signal_fd_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signal_fd_) {
    return failSys(errno, "signalfd");
  }

  if (cfg_.setup_interface) {
    netcfg::LinkSpec spec{cfg_.interface_name, cfg_.link_kind, cfg_.local_ips};
    auto r = netcfg::ensureLink(spec);
    if (!r) {
      return fail(
          std::move(r.error()).withContext("set up interface '" + cfg_.interface_name + "'"));
    }
    if (!r->fallback_reason.empty()) {
      NLD_LOG(kNetcfg, info, "interface '{}': {}", cfg_.interface_name, r->fallback_reason);
    }
    NLD_LOG(kNetcfg, info, "interface '{}' ready: {} kind={} added={}", cfg_.interface_name,
            r->created ? "created" : "adopted", netcfg::toString(r->kind), r->added.size());
    auto w = netcfg::LinkWatcher::create();
    if (!w) {
      return fail(std::move(w.error()).withContext("watch interface"));
    }
    link_watcher_ = std::move(*w);
  }

  if (isFile(cfg_.base_corefile)) {
    source_ = Source::kBase;
  } else if (isFile(cfg_.conf)) {
    source_ = Source::kConfAsIs;
    NLD_LOG(kConfig, info, "no base Corefile '{}': serving '{}' as is", cfg_.base_corefile,
            cfg_.conf);
  } else {
    source_ = Source::kBuiltin;
    NLD_LOG(kConfig, info,
            "no Corefile at '{}' or '{}': serving the built-in default (forward . to "
            "/etc/resolv.conf)",
            cfg_.base_corefile, cfg_.conf);
  }
  auto text = renderText();
  if (!text) {
    return fail(std::move(text.error()));
  }
  auto config = parse(*text);
  if (!config) {
    return fail(std::move(config.error()));
  }
  if (source_ != Source::kConfAsIs && !cfg_.conf.empty()) {
    if (auto r = writeFileAtomic(cfg_.conf, *text); !r) {
      return fail(std::move(r.error()).withContext("write -conf"));
    }
  }
  // The interface is set up; what is left (listeners, rules, the link watcher, reloads, the
  // teardown) needs only the network capabilities. Before the first thread starts: capabilities
  // are per thread.
  auto caps = dropCapabilities();
  if (!caps) {
    return fail(std::move(caps.error()).withContext("drop capabilities"));
  }
  if (caps->effective_after != caps->effective_before) {
    NLD_LOG(kCli, info, "capabilities kept: {} (all others dropped{})",
            capabilityNames(caps->effective_after),
            caps->bounding_dropped ? ", also from the bounding set" : "");
  }
  std::vector<SocketAddress> http_addresses = httpAddresses(*config);
  auto server = resolver::Server::create(std::move(*config), cfg_.server);
  if (!server) {
    return fail(std::move(server.error()).withContext("start DNS server"));
  }
  server_ = std::move(*server);
  server_->start();
  text_ = std::move(*text);
  std::string bound;
  for (const auto& a : server_->boundUdp()) {
    bound += (bound.empty() ? "" : " ") + a.toString();
  }
  if (cfg_.server.workers == 0) {
    auto dw = resolver::defaultWorkers();
    NLD_LOG(kServer, info, "serving DNS on {} with {} workers ({})", bound, dw.workers, dw.reason);
  } else {
    NLD_LOG(kServer, info, "serving DNS on {} with {} workers (--workers)", bound,
            cfg_.server.workers);
  }

  auto http = HttpServer::create(
      [this](const std::string&, const std::string& path) { return handleHttp(path); }, cfg_.http);
  if (!http) {
    return fail(std::move(http.error()));
  }
  http_ = std::move(*http);
  if (auto r = http_->setListeners(http_addresses); !r) {
    // node-cache logs "Failed to start metrics handler" and goes on; so do we.
    NLD_LOG(kMetrics, err, "{}, serving DNS without it", r.error().message());
  }

  if (!cfg_.pidfile.empty()) {
    if (auto r = writePidFile(cfg_.pidfile, ::getpid()); !r) {
      return fail(std::move(r.error()));
    }
    pidfile_written_ = true;
  }
  // Only now that we answer: divert DNS to us.
  chooseRulesBackend();
  ensureRulesNow();

  auto dw = DirWatcher::create();
  if (!dw) {
    return fail(std::move(dw.error()));
  }
  dir_watcher_ = std::move(*dw);
  std::vector<std::string> dirs;
  if (!cfg_.base_corefile.empty()) {
    dirs.push_back(dirOf(cfg_.base_corefile));
  }
  if (!cfg_.kube_dns_dir.empty()) {
    dirs.push_back(cfg_.kube_dns_dir);
  }
  if (source_ == Source::kConfAsIs) {
    dirs.push_back(dirOf(cfg_.conf));
  } else if (!cfg_.conf.empty()) {
    dir_watcher_->ignoreName(baseName(cfg_.conf));
  }
  for (const auto& d : dirs) {
    if (auto r = dir_watcher_->add(d); !r) {
      NLD_LOG(kConfig, warn, "{}, config changes there need SIGHUP", r.error().message());
    }
  }
  next_sync_ = Clock::now() + cfg_.sync_interval;
  return {};
}

void Daemon::reload(const char* why) {
  auto text = renderText();
  if (!text) {
    metrics_.count(SetupError::kConfigmap);
    NLD_LOG(kConfig, warn, "reload ({}): {}, keeping the current configuration", why,
            text.error().message());
    return;
  }
  if (*text == text_) {
    NLD_LOG(kConfig, debug, "reload ({}): Corefile unchanged", why);
    return;
  }
  auto config = parse(*text);
  if (!config) {
    metrics_.countReloadFailure();
    NLD_LOG(kConfig, warn, "reload ({}): {}, keeping the current configuration", why,
            config.error().message());
    return;
  }
  std::vector<SocketAddress> http_addresses = httpAddresses(*config);
  {
    std::lock_guard lock(server_mutex_);
    auto r = server_->reload(std::move(*config));
    if (!r) {
      metrics_.countReloadFailure();
      NLD_LOG(kConfig, warn, "reload ({}): {}, keeping the current configuration", why,
              r.error().message());
      return;
    }
  }
  if (source_ != Source::kConfAsIs && !cfg_.conf.empty()) {
    if (auto r = writeFileAtomic(cfg_.conf, *text); !r) {
      metrics_.count(SetupError::kConfigmap);
      NLD_LOG(kConfig, warn, "write -conf: {}, ignoring", r.error().message());
    }
  }
  text_ = std::move(*text);
  metrics_.countReload();
  if (auto r = http_->setListeners(http_addresses); !r) {
    NLD_LOG(kMetrics, err, "{}, ignoring", r.error().message());
  }
  NLD_LOG(kConfig, info, "configuration reloaded ({})", why);
}

int Daemon::shutdown(int signo) {
  bool handover = signo == SIGUSR2 || cfg_.handover == HandoverMode::kAlways;
  if (!handover && cfg_.handover == HandoverMode::kAuto) {
    std::vector<SocketAddress> bound;
    {
      std::lock_guard lock(server_mutex_);
      bound = server_->boundUdp();
    }
    handover = anotherInstanceServes(bound);
  }
  bool teardown = !handover && !cfg_.skip_teardown;
  NLD_LOG(kCli, info, "{}: shutting down ({})", ::strsignal(signo),
          handover   ? "handing over to the successor, no teardown"
          : teardown ? "tearing down"
                     : "-skipteardown");
  // A hung step (kernel, lock) must not keep the pod in Terminating forever (kubernetes/dns#394).
  std::thread([timeout = cfg_.shutdown_timeout] {
    std::this_thread::sleep_for(timeout);
    NLD_LOG(kCli, err, "shutdown took longer than {}ms, exiting", timeout.count());
    ::_exit(1);
  }).detach();

  bool failed = false;
  // Rules first: queries go back to kube-dns while we still answer what is queued. Always done,
  // even when a second signal is already pending (bounded by the xtables lock wait): NOTRACK
  // rules left pointing at a dead cache would break DNS on the node.
  if (teardown && cfg_.setup_iptables) {
    netcfg::RuleSpec spec{cfg_.local_ips, cfg_.dns_port, cfg_.health_port};
    auto r = netcfg::removeRules(spec, rulesOptions());
    if (!r) {
      failed = true;
      NLD_LOG(kRules, err, "remove rules: {}", r.error().message());
    } else {
      NLD_LOG(kRules, info, "removed {} rules", r->removed);
    }
  }
  if (auto second = pendingStopSignal()) {
    forcedExit(*second, teardown);
  }
  if (auto second = drainUnlessForced()) {
    forcedExit(*second, teardown);
  }
  if (!removeInterfaceOnTeardown(teardown)) {
    failed = true;
  }
  http_stopping_ = true;
  http_->stop();
  if (pidfile_written_) {
    removePidFileIfOwned(cfg_.pidfile, ::getpid());
  }
  NLD_LOG(kCli, info, "stopped");
  return failed ? 1 : 0;
}

// A stop signal (SIGTERM/SIGINT/SIGQUIT) that arrived since shutdown began; reloads and the
// hand-over signal are dropped (too late for them).
std::optional<int> Daemon::pendingStopSignal() {
  signalfd_siginfo si{};
  while (::read(signal_fd_.get(), &si, sizeof(si)) == sizeof(si)) {
    int signo = static_cast<int>(si.ssi_signo);
    if (signo == SIGTERM || signo == SIGINT || signo == SIGQUIT) {
      return signo;
    }
  }
  return std::nullopt;
}

// Stops accepting and drains in-flight queries on a helper thread while this one watches the
// signalfd. @return the second stop signal when one came first; the drain thread is then
// abandoned (the caller exits the process).
std::optional<int> Daemon::drainUnlessForced() {
  auto drainServer = [this] {
    std::lock_guard lock(server_mutex_);
    // Answers what is queued, closes the sockets (the successor's take new datagrams), then
    // waits for in-flight upstream queries.
    server_->stopAccepting();
    server_->stop(cfg_.drain);
  };
  Fd done(::eventfd(0, EFD_CLOEXEC));
  if (!done) {
    drainServer();
    return std::nullopt;
  }
  std::thread drain([drainServer, fd = done.get()] {
    drainServer();
    uint64_t one = 1;
    (void)::write(fd, &one, sizeof(one));
  });
  while (true) {
    pollfd fds[2] = {{signal_fd_.get(), POLLIN, 0}, {done.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) {
      break;  // cannot watch: just wait for the drain
    }
    if ((fds[1].revents & POLLIN) != 0) {
      break;
    }
    if ((fds[0].revents & POLLIN) != 0) {
      if (auto second = pendingStopSignal()) {
        drain.detach();
        done.release();  // the detached thread still writes to it
        return second;
      }
    }
  }
  drain.join();
  return std::nullopt;
}

// Second stop signal: skip the drain, still take the interface away (one netlink call) and the
// pidfile, and exit non-zero at once. The rules are already gone (or, with -skipteardown or on
// a hand-over, were meant to stay).
// The last teardown step: our interface. @return false when it could not be removed (logged).
bool Daemon::removeInterfaceOnTeardown(bool teardown) {
  if (!teardown || !cfg_.setup_interface) {
    return true;
  }
  if (auto r = netcfg::removeLink(cfg_.interface_name); !r) {
    NLD_LOG(kNetcfg, err, "remove interface '{}': {}", cfg_.interface_name, r.error().message());
    return false;
  }
  return true;
}

void Daemon::forcedExit(int signo, bool teardown) {
  NLD_LOG(kCli, warn, "{} during shutdown: forcing exit without draining", ::strsignal(signo));
  removeInterfaceOnTeardown(teardown);
  if (pidfile_written_) {
    removePidFileIfOwned(cfg_.pidfile, ::getpid());
  }
  NLD_LOG(kCli, info, "stopped (forced)");
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->flush(); });
  ::_exit(forcedExitCode(signo));
}

Result<int> Daemon::run() {
  if (auto r = startUp(); !r) {
    return fail(std::move(r.error()));
  }
  while (true) {
    auto now = Clock::now();
    Clock::time_point wake = next_sync_;
    if (reload_at_) {
      wake = std::min(wake, *reload_at_);
    }
    if (link_retry_at_) {
      wake = std::min(wake, *link_retry_at_);
    }
    int timeout = static_cast<int>(
        std::max<int64_t>(0, std::chrono::duration_cast<milliseconds>(wake - now).count() + 1));
    pollfd fds[3] = {{signal_fd_.get(), POLLIN, 0},
                     {dir_watcher_->fd(), POLLIN, 0},
                     {link_watcher_ ? link_watcher_->fd() : -1, POLLIN, 0}};
    int n = ::poll(fds, 3, timeout);
    if (n < 0 && errno != EINTR) {
      NLD_LOG(kCli, critical, "poll: {}, shutting down", std::strerror(errno));
      return shutdown(SIGTERM);
    }
    if (n > 0 && (fds[0].revents & POLLIN) != 0) {
      signalfd_siginfo si{};
      while (::read(signal_fd_.get(), &si, sizeof(si)) == sizeof(si)) {
        int signo = static_cast<int>(si.ssi_signo);
        if (signo == SIGHUP || signo == SIGUSR1) {
          reload(signo == SIGHUP ? "SIGHUP" : "SIGUSR1");
        } else if (signo == wedgeSignal()) {
          NLD_LOG(kCli, warn, "test hook: stopping the DNS workers");
          std::lock_guard lock(server_mutex_);
          server_->stop(milliseconds(0));
          wedged_.store(true);
        } else {
          return shutdown(signo);
        }
      }
    }
    if (n > 0 && (fds[2].revents & POLLIN) != 0 && link_watcher_->drain()) {
      ensureInterface(false);
    }
    if (n > 0 && (fds[1].revents & POLLIN) != 0 && dir_watcher_->drain()) {
      reload_at_ = Clock::now() + kReloadDebounce;
    }
    now = Clock::now();
    if (reload_at_ && now >= *reload_at_) {
      reload_at_.reset();
      reload("config directory changed");
    }
    if (link_retry_at_ && now >= *link_retry_at_) {
      ensureInterface(false);
    }
    if (now >= next_sync_) {
      next_sync_ = now + cfg_.sync_interval;
      ensureRulesNow();
      ensureInterface(true);
      if (dir_watcher_->rewatch()) {
        reload("config directory appeared");
      }
    }
  }
}

}  // namespace

std::string defaultBaseCorefile(uint16_t health_port) {
  return ". {\n"
         "    errors\n"
         "    cache 30\n"
         "    reload\n"
         "    bind __PILLAR__LOCAL__DNS__\n"
         "    forward . __PILLAR__UPSTREAM__SERVERS__\n"
         "    prometheus __PROMETHEUS__ENDPOINT__\n"
         "    health __PILLAR__LOCAL__DNS__:" +
         std::to_string(health_port) +
         "\n"
         "}\n";
}

Result<int> runDaemon(const RunConfig& config) {
  Daemon daemon(config);
  return daemon.run();
}

}  // namespace nld::cli
