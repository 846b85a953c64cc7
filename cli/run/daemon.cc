#include "cli/run/daemon.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "base/atomic_file.h"
#include "base/log.h"
#include "base/strings.h"
#include "cli/run/caps.h"
#include "cli/run/daemon_impl.h"
#include "cli/run/process.h"

namespace nld::cli {
namespace daemon_detail {

// Every signal we act on arrives through signal_fd_ (start-up step 0).
Result<void> Daemon::blockSignals() {
  // Every thread (workers, HTTP) inherits this mask, so signals arrive only through signalfd.
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2}) {
    sigaddset(&set, s);
  }
  if (std::getenv("NLD_TEST_HOOKS") != nullptr) {
    sigaddset(&set, wedgeSignal());
  }
  // The DNS workers' wake signal (--udp-wait auto, resolver/net/blocking_read.h): only ever
  // sent to a worker thread, and blocked here so that a process-directed one cannot interrupt a
  // syscall in this or the HTTP thread either; each worker unblocks it for itself.
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
  return {};
}

// Start-up step 1: our interface (created or adopted) and the watcher that keeps it.
Result<void> Daemon::setUpInterface() {
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
  return {};
}

Result<void> Daemon::startUp() {
  if (auto r = blockSignals(); !r) {
    return r;
  }
  if (auto r = setUpInterface(); !r) {
    return r;
  }
  chooseSource();
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
  bool reload_plugin = hasReloadPlugin(*config);
  auto server = resolver::Server::create(std::move(*config), cfg_.server);
  if (!server) {
    return fail(std::move(server.error()).withContext("start DNS server"));
  }
  server_ = std::move(*server);
  server_->start();
  text_ = std::move(*text);
  metrics_.setCorefile(text_, reload_plugin);
  std::string bound = join(server_->boundUdp(), " ");
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

  if (auto r = watchConfigDirs(); !r) {
    return r;
  }
  next_sync_ = Clock::now() + cfg_.sync_interval;
  return {};
}

// The directories whose changes reload: the base Corefile's, the ConfigMap's, -conf's when
// served as is.
Result<void> Daemon::watchConfigDirs() {
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
  return {};
}

}  // namespace daemon_detail

Result<int> runDaemon(const RunConfig& config) {
  daemon_detail::Daemon daemon(config);
  return daemon.run();
}

}  // namespace nld::cli
