// Server / ServerImpl: owns the workers and their threads, binds listeners, swaps snapshots.
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <cstdio>
#include <mutex>
#include <thread>

#include "base/log.h"
#include "base/random.h"
#include "base/version.h"
#include "resolver/config/config.h"
#include "resolver/dns/builder.h"
#include "resolver/dns/types.h"
#include "resolver/net/socket.h"
#include "resolver/resolver.h"
#include "resolver/server/cpu_budget.h"
#include "resolver/server/snapshot.h"
#include "resolver/server/worker.h"

namespace nld::resolver {

using server::Snapshot;
using server::Worker;
using server::WorkerSockets;

class ServerImpl {
 public:
  ServerOptions options;
  std::vector<int> cpus;
  bool pin = false;
  std::unique_ptr<metrics::Registry> registry;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::thread> threads;
  std::mutex mutex;  // control operations
  std::shared_ptr<const Snapshot> snapshot;
  std::vector<SocketAddress> bound_udp, bound_tcp;  // per snapshot listener (port resolved)
  bool started = false;
  bool stopped = false;

  /// Binds every worker's sockets for the listeners of `snap` not in `keep` (index → bound
  /// address). Wildcard IPv6 listeners on hosts without IPv6 are skipped.
  Result<std::vector<WorkerSockets>> bindListeners(const Snapshot& snap,
                                                   const std::vector<SocketAddress>* old_conf,
                                                   std::vector<SocketAddress>& udp_out,
                                                   std::vector<SocketAddress>& tcp_out);
};

Result<std::vector<WorkerSockets>> ServerImpl::bindListeners(
    const Snapshot& snap, const std::vector<SocketAddress>* old_conf,
    std::vector<SocketAddress>& udp_out, std::vector<SocketAddress>& tcp_out) {
  std::vector<WorkerSockets> out(workers.size());
  for (auto& ws : out) {
    ws.udp.resize(snap.listeners.size());
    ws.tcp.resize(snap.listeners.size());
  }
  udp_out.assign(snap.listeners.size(), SocketAddress{});
  tcp_out.assign(snap.listeners.size(), SocketAddress{});
  for (size_t li = 0; li < snap.listeners.size(); ++li) {
    SocketAddress addr = snap.listeners[li];
    if (old_conf != nullptr) {
      bool kept = false;
      for (size_t j = 0; j < old_conf->size(); ++j) {
        if ((*old_conf)[j] == addr) {
          udp_out[li] = bound_udp[j];
          tcp_out[li] = bound_tcp[j];
          kept = true;
        }
      }
      if (kept) {
        continue;
      }
    }
    const bool wildcard_v6 = addr.ip.isV6() && addr.ip.isUnspecified();
    for (int tries = 0; tries < 8; ++tries) {
      bool retry = false;
      SocketAddress want = addr;
      for (size_t w = 0; w < workers.size(); ++w) {
        auto udp = net::bindUdp(want, true);
        if (!udp) {
          if (wildcard_v6 && w == 0) {
            break;  // no IPv6 on this host: serve IPv4 only
          }
          if (addr.port == 0 && w > 0 && udp.error().sysErrno() == EADDRINUSE) {
            retry = true;
            break;
          }
          return fail(std::move(udp.error()));
        }
        if (want.port == 0) {
          want.port = net::localAddress(udp->get())->port;
        }
        auto tcp = net::listenTcp(want, true);
        if (!tcp) {
          if (addr.port == 0 && tcp.error().sysErrno() == EADDRINUSE) {
            retry = true;
            break;
          }
          return fail(std::move(tcp.error()));
        }
        out[w].udp[li] = std::move(*udp);
        out[w].tcp[li] = std::move(*tcp);
        udp_out[li] = want;
        tcp_out[li] = want;
      }
      if (!retry) {
        break;
      }
      for (auto& ws : out) {
        ws.udp[li].reset();
        ws.tcp[li].reset();
      }
    }
  }
  return out;
}

Server::Server(std::unique_ptr<ServerImpl> impl) : impl_(std::move(impl)) {}

DefaultWorkers defaultWorkers() {
  auto budget = server::currentCpuBudget();
  DefaultWorkers d;
  d.workers = budget.workers;
  d.reason = "affinity " + std::to_string(budget.cpus.size()) + " CPUs";
  if (budget.quota) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2f", *budget.quota);
    d.reason += std::string(", cgroup CPU limit ") + text;
  } else {
    d.reason += ", no cgroup CPU limit";
  }
  return d;
}

unsigned upstreamQueriesPerWorker(unsigned wanted, unsigned workers, unsigned tcp_connections) {
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) != 0 || nofile.rlim_cur == RLIM_INFINITY) {
    return wanted;
  }
  // TCP clients (each worker up to its cap), listeners, netlink, the HTTP servers and files
  // need the rest.
  const rlim_t reserved =
      rlim_t{kFdReserve} + rlim_t{tcp_connections} * rlim_t{std::max(workers, 1u)};
  rlim_t spare = nofile.rlim_cur > reserved ? nofile.rlim_cur - reserved : 0;
  auto fit = static_cast<unsigned>(std::min<rlim_t>(spare / std::max(workers, 1u), 1u << 30));
  fit = std::max(fit, 16u);
  return wanted == 0 ? fit : std::min(wanted, fit);
}

Server::~Server() { stop(std::chrono::milliseconds(0)); }

Result<std::unique_ptr<Server>> Server::create(config::Config config,
                                               const ServerOptions& options) {
  auto impl = std::make_unique<ServerImpl>();
  impl->options = options;
  auto budget = server::currentCpuBudget();
  impl->cpus = budget.cpus;
  unsigned n = options.workers != 0 ? options.workers : budget.workers;
  // Under a cgroup quota the scheduler, not a fixed CPU, is the right place for our threads.
  impl->pin = options.pin_workers && n <= impl->cpus.size() && !budget.quota_limited;
  impl->registry = std::make_unique<metrics::Registry>(n);
  auto snap = server::buildSnapshot(std::move(config), nullptr, *impl->registry,
                                    options.cache_max_bytes, n);
  if (!snap) {
    return fail(std::move(snap.error()));
  }
  server::WorkerOptions wopts;
  wopts.tcp_idle_timeout = options.tcp_idle_timeout;
  wopts.tcp_max_connections = options.tcp_max_connections;
  wopts.max_upstream_queries =
      upstreamQueriesPerWorker(options.max_upstream_queries, n, options.tcp_max_connections);
  wopts.tcp.query_timeout = options.tcp_query_timeout;
  wopts.tcp.max_in_flight = options.tcp_max_in_flight;
  wopts.tcp.output_high = options.tcp_output_high;
  wopts.tcp.output_low = options.tcp_output_high / 4;
  wopts.tcp.worker_bytes = options.tcp_worker_bytes;
  wopts.udp_wait = options.udp_wait;
  wopts.clock = options.clock;
  wopts.transport = options.transport;
  for (unsigned i = 0; i < n; ++i) {
    auto w = Worker::create(i, *impl->registry, wopts);
    if (!w) {
      return fail(std::move(w.error()));
    }
    impl->workers.push_back(std::move(*w));
  }
  std::vector<SocketAddress> udp, tcp;
  auto sockets = impl->bindListeners(**snap, nullptr, udp, tcp);
  if (!sockets) {
    return fail(std::move(sockets.error()));
  }
  impl->bound_udp = std::move(udp);
  impl->bound_tcp = std::move(tcp);
  for (unsigned i = 0; i < n; ++i) {
    impl->workers[i]->install(*snap, std::move((*sockets)[i]));
  }
  impl->snapshot = std::move(*snap);
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

void Server::start() {
  std::lock_guard lock(impl_->mutex);
  if (impl_->started) {
    return;
  }
  impl_->started = true;
  for (size_t i = 0; i < impl_->workers.size(); ++i) {
    Worker* w = impl_->workers[i].get();
    impl_->threads.emplace_back([w] { w->run(); });
    if (impl_->pin) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(impl_->cpus[i], &set);
      pthread_setaffinity_np(impl_->threads.back().native_handle(), sizeof set, &set);
    }
    std::string name = "nld-worker-" + std::to_string(i);
    pthread_setname_np(impl_->threads.back().native_handle(), name.substr(0, 15).c_str());
  }
}

Result<void> Server::reload(config::Config config) {
  std::lock_guard lock(impl_->mutex);
  if (impl_->stopped) {
    return fail(Errc::kInvalidArgument, "reload: server is stopped");
  }
  auto snap = server::buildSnapshot(std::move(config), impl_->snapshot.get(), *impl_->registry,
                                    impl_->options.cache_max_bytes,
                                    static_cast<unsigned>(impl_->workers.size()));
  if (!snap) {
    return fail(std::move(snap.error()).withContext("reload"));
  }
  std::vector<SocketAddress> udp, tcp;
  auto sockets = impl_->bindListeners(**snap, &impl_->snapshot->listeners, udp, tcp);
  if (!sockets) {
    return fail(std::move(sockets.error()).withContext("reload"));
  }
  for (size_t i = 0; i < impl_->workers.size(); ++i) {
    if (impl_->started) {
      impl_->workers[i]->postInstall(*snap, std::move((*sockets)[i]));
    } else {
      impl_->workers[i]->install(*snap, std::move((*sockets)[i]));
    }
  }
  impl_->bound_udp = std::move(udp);
  impl_->bound_tcp = std::move(tcp);
  impl_->snapshot = std::move(*snap);
  return {};
}

void Server::stopAccepting() {
  std::lock_guard lock(impl_->mutex);
  if (impl_->stopped) {
    return;
  }
  if (!impl_->started) {
    for (auto& w : impl_->workers) {
      w->closeListenersNow();  // no thread yet
    }
    return;
  }
  // Synchronous: when this returns, our sockets have left the SO_REUSEPORT groups, so the kernel
  // hands every new datagram and connection to the successor. A datagram that lands between a
  // worker's last drain and its close() is still lost (a window of microseconds).
  auto remaining = std::make_shared<std::atomic<size_t>>(impl_->workers.size());
  for (auto& w : impl_->workers) {
    w->postStopAccepting([remaining] { remaining->fetch_sub(1); });
  }
  // Real time, not the workers' injected clock (here and in stop() and the health probe): the
  // control thread waits for worker threads and sockets, which only real time moves.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (remaining->load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

void Server::stop(std::chrono::milliseconds drain) {
  std::lock_guard lock(impl_->mutex);
  if (impl_->stopped) {
    return;
  }
  impl_->stopped = true;
  if (impl_->started) {
    for (auto& w : impl_->workers) {
      w->postStopAccepting();
    }
    auto deadline = std::chrono::steady_clock::now() + drain;  // real time: see stopAccepting()
    for (;;) {
      size_t pending = 0;
      for (auto& w : impl_->workers) {
        pending += w->pending();
      }
      if (pending == 0 || std::chrono::steady_clock::now() >= deadline) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    for (auto& w : impl_->workers) {
      w->postStop();
    }
    for (auto& t : impl_->threads) {
      t.join();
    }
    impl_->threads.clear();
  }
}

bool Server::probe(std::chrono::milliseconds timeout) {
  SocketAddress target;
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopped || !impl_->started) {
      return false;
    }
    bool found = false;
    for (const auto& a : impl_->bound_udp) {
      if (a.port != 0) {
        target = a;
        found = true;
        break;
      }
    }
    if (!found) {
      return false;
    }
  }
  if (target.ip.isUnspecified()) {
    target.ip = *IpAddress::parse(target.ip.isV4() ? "127.0.0.1" : "::1");
  }
  auto fd = net::connectUdp(target);
  if (!fd) {
    return false;
  }
  uint8_t q[dns::kHeaderSize + sizeof server::kProbeWire + 4];
  uint16_t id = static_cast<uint16_t>(random64());
  const size_t qlen =
      dns::buildQuery(id, 0, kHealthProbeName, dns::qtype::kTxt, dns::qclass::kCh, q);
  if (qlen == 0 || ::send(fd->get(), q, qlen, 0) < 0) {
    return false;
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;  // real time: a poll() on a socket
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return false;
    }
    pollfd p{fd->get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      return false;
    }
    uint8_t buf[512];
    ssize_t n = ::recv(fd->get(), buf, sizeof buf, 0);
    if (n >= static_cast<ssize_t>(dns::kHeaderSize) && dns::readU16(buf) == id &&
        (buf[2] & 0x80) != 0) {
      return true;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return false;
    }
  }
}

uint64_t Server::progress() const {
  uint64_t sum = 0;
  for (const auto& w : impl_->workers) {
    sum += w->progress();
  }
  return sum;
}

bool Server::upstreamReachable() const {
  std::lock_guard lock(impl_->mutex);
  if (!impl_->snapshot) {
    return false;
  }
  for (const auto& g : impl_->snapshot->groups) {
    if (!g->anyUp()) {
      return false;
    }
  }
  return true;
}

std::string Server::renderMetrics() const {
  std::shared_ptr<const Snapshot> snap;
  {
    std::lock_guard lock(impl_->mutex);
    snap = impl_->snapshot;
  }
  std::vector<metrics::CacheGauge> gauges;
  if (snap) {
    for (size_t bi = 0; bi < snap->blocks.size(); ++bi) {
      const auto& b = snap->blocks[bi];
      if (!b.cache) {
        continue;
      }
      // Reported once per block, under its first listener's server label.
      for (size_t li = 0; li < snap->listeners.size(); ++li) {
        if (snap->cache_stats[li][bi] == nullptr) {
          continue;
        }
        metrics::CacheGauge g;
        g.server = snap->server_labels[li];
        g.zones = b.zones_label;
        auto st = b.cache->stats();
        g.entries[0] = st.success_entries;
        g.entries[1] = st.denial_entries;
        g.evictions[0] = st.evictions_success;
        g.evictions[1] = st.evictions_denial;
        gauges.push_back(std::move(g));
        break;
      }
    }
  }
  return impl_->registry->render(
      gauges, NLD_VERSION, snap ? snap->plugins_enabled : std::vector<metrics::PluginEnabled>{});
}

std::vector<SocketAddress> Server::boundUdp() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->bound_udp;
}

std::vector<SocketAddress> Server::boundTcp() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->bound_tcp;
}

}  // namespace nld::resolver
