#include <cstdlib>
#include <thread>

#include "base/log.h"
#include "cli/run/daemon_impl.h"

namespace nld::cli::daemon_detail {

namespace {

constexpr milliseconds kProbeTimeout{1000};

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

}  // namespace

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
    auto start = Clock::now();
    bool ok = healthy();
    metrics_.observeHealth(Clock::now() - start, ok);
    return ok ? HttpResponse{200, "text/plain; charset=utf-8", "OK"}
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

}  // namespace nld::cli::daemon_detail
