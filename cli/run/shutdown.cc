#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "base/log.h"
#include "cli/run/daemon_impl.h"
#include "cli/run/process.h"

namespace nld::cli::daemon_detail {

namespace {

// Exit code after a second stop signal cut the shutdown short: 128 + its number, as a shell
// reports a command a signal ended (130 for SIGINT, 143 for SIGTERM), like install's interrupt.
int forcedExitCode(int signo) { return 128 + signo; }

}  // namespace

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
  NLD_LOG(kCli, info, "{}: shutting down ({})", signalText(signo),
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
  NLD_LOG(kCli, warn, "{} during shutdown: forcing exit without draining", signalText(signo));
  removeInterfaceOnTeardown(teardown);
  if (pidfile_written_) {
    removePidFileIfOwned(cfg_.pidfile, ::getpid());
  }
  NLD_LOG(kCli, info, "stopped (forced)");
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->flush(); });
  ::_exit(forcedExitCode(signo));
}

}  // namespace nld::cli::daemon_detail
