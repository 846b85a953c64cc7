#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/atomic_file.h"
#include "base/log.h"
#include "base/strings.h"
#include "cli/run/daemon_impl.h"

namespace nld::cli::daemon_detail {

// Test hook (NLD_TEST_HOOKS=1): this signal stops the DNS workers but keeps the process, HTTP
// and the sync loop running, so a test can watch /health turn red.
int wedgeSignal() { return SIGRTMIN + 1; }

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
      NLD_LOG(kCli, critical, "poll: {}, shutting down", errnoText(errno));
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
  bool reload_plugin = hasReloadPlugin(*config);
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
  metrics_.setCorefile(text_, reload_plugin);
  metrics_.countReload();
  if (auto r = http_->setListeners(http_addresses); !r) {
    NLD_LOG(kMetrics, err, "{}, ignoring", r.error().message());
  }
  NLD_LOG(kConfig, info, "configuration reloaded ({})", why);
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
    std::string added = join(r->added, ",");
    NLD_LOG(kNetcfg, info, "interface '{}' restored: created={} kind={} added=[{}] up={}",
            cfg_.interface_name, r->created, netcfg::toString(r->kind), added, r->brought_up);
  }
}

}  // namespace nld::cli::daemon_detail
