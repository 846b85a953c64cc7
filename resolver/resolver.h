// The resolver facade: the caching DNS forwarder that serves the node-local addresses.
//
// `Server` owns the worker threads (one per CPU in the affinity mask by default), each with its own
// epoll loop, its own SO_REUSEPORT UDP and TCP sockets per bind address, its own upstream sockets
// and in-flight table. Shared between workers: one cache per server block (sharded, byte-bounded)
// and the immutable config snapshot, swapped atomically by reload().
//
// Threading: create() and every method may be called from any one control thread (not from a
// worker); probe(), progress(), upstreamReachable() and renderMetrics() also from one more thread
// (the daemon's HTTP thread) at the same time — they take the server's own lock only briefly.
// Errors: create()/reload() return Result with a message naming the address or block;
// nothing here throws.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/ip.h"
#include "base/result.h"

namespace nld::resolver {

namespace config {
struct Config;
}  // namespace config
namespace net {
class Clock;
}  // namespace net
namespace forward {
class UpstreamTransport;
}  // namespace forward

/// The health probe: a CH-class TXT query for this name is answered by a worker itself (NOERROR,
/// no records) — proof that the serving loop runs, whatever state the upstreams are in.
inline constexpr const char* kHealthProbeName = "health.nodelocaldns.";

/// How workers wait for UDP queries. kEpoll (the default): always in epoll_wait(). kAuto: in
/// epoll_wait(), until the same UDP listener has been a worker's only ready fd for a number of
/// rounds in a row; then blocked in that socket's recvmmsg() (one syscall fewer per wake-up, as a
/// plain blocking UDP server), interrupted by a signal (SIGURG) from a watcher thread per worker
/// when anything else needs the worker (net/blocking_read.h). kEager: block after one such round
/// (tests). kAuto/kEager install a process-wide SIGURG handler at the first worker's creation
/// (and fall back to kEpoll if the program has one of its own); the signal is only sent to the
/// worker threads, but a program that blocks SIGURG in its other threads (as the daemon does)
/// also keeps a process-directed one away from them.
enum class UdpWait : uint8_t { kAuto, kEpoll, kEager };

struct ServerOptions {
  unsigned workers = 0;  ///< 0 = one per CPU in the affinity mask, capped by the cgroup CPU quota
  size_t cache_max_bytes = size_t{64} << 20;  ///< all caches together
  // TCP bounds, client and upstream connections (issue 10; README "TCP limits").
  std::chrono::milliseconds tcp_idle_timeout{10000};  ///< no complete query / no output progress
  unsigned tcp_max_connections = 1024;  ///< per worker; at the cap the least useful is evicted
  std::chrono::milliseconds tcp_query_timeout{2000};  ///< a started or first query completes
  unsigned tcp_max_in_flight = 64;                    ///< per client connection
  size_t tcp_output_high = size_t{256} << 10;         ///< stop reading; resume at a quarter
  size_t tcp_worker_bytes = size_t{32} << 20;         ///< all TCP buffers of one worker
  /// Upstream queries in flight per worker (each holds a socket); beyond it SERVFAIL at once,
  /// counted in nodelocaldns_forward_inflight_rejects_total. Lowered at create() so that all
  /// workers together stay kFdReserve descriptors below RLIMIT_NOFILE; 0 = only that cap.
  unsigned max_upstream_queries = 1024;
  bool pin_workers = true;             ///< pin worker i to the i-th CPU of the affinity mask
  UdpWait udp_wait = UdpWait::kEpoll;  ///< the daemon runs kAuto (--udp-wait auto)
  /// Tests only: every worker's time (net::ManualClock) and upstream sockets (a scripted
  /// forward::UpstreamTransport, shared by the workers: it must be thread-safe). Null = the
  /// system's. Both must outlive the server.
  net::Clock* clock = nullptr;
  forward::UpstreamTransport* transport = nullptr;
};

/// Descriptors kept free of upstream queries (see ServerOptions::max_upstream_queries).
inline constexpr unsigned kFdReserve = 512;
/// `wanted` (0 = no bound of its own) capped so that `workers` workers together leave kFdReserve
/// descriptors of RLIMIT_NOFILE free, beyond the `tcp_connections` client connections each
/// worker may hold (--tcp-max-connections); at least 16.
unsigned upstreamQueriesPerWorker(unsigned wanted, unsigned workers, unsigned tcp_connections = 0);

/// What `workers = 0` resolves to on this machine, and why, e.g. "2 (affinity 96 CPUs, cgroup
/// CPU limit 1.5)" — for the start-up log line.
struct DefaultWorkers {
  unsigned workers = 1;
  std::string reason;
};
DefaultWorkers defaultWorkers();

class ServerImpl;

class Server {
 public:
  /// Binds every listener of every server block (UDP+TCP per bind address and port, one
  /// SO_REUSEPORT socket per worker). Errors name the address, e.g.
  /// "bind udp 169.254.20.10:53: Cannot assign requested address".
  static Result<std::unique_ptr<Server>> create(config::Config config,
                                                const ServerOptions& options);
  /// Starts the worker threads. Call once. The threads inherit the caller's signal mask: block
  /// the signals a signalfd or sigwait() handles before calling this.
  void start();
  /// Atomic snapshot swap; caches of unchanged blocks are kept; in-flight queries finish with the
  /// snapshot they started with. New bind addresses are bound; vanished ones are closed.
  Result<void> reload(config::Config config);
  /// Closes the listeners (hand-over: call after the successor has bound its sockets).
  /// Synchronous: each worker answers what is queued on its sockets and closes them; TCP
  /// connections already accepted keep being served until stop(). Answers to forwarded UDP
  /// queries that complete after this are dropped (their socket is gone); clients retry.
  void stopAccepting();
  /// Drains in-flight queries up to the deadline, then joins the threads. Idempotent.
  void stop(std::chrono::milliseconds drain);
  /// Sends a real query through a worker's serving loop (health). True if it was answered.
  bool probe(std::chrono::milliseconds timeout);
  /// Monotonically increasing count of packets handled (watchdog).
  uint64_t progress() const;
  /// True if at least one upstream of every forward group answered recently or is not known bad.
  bool upstreamReachable() const;
  /// Prometheus text exposition, CoreDNS-compatible names and labels.
  std::string renderMetrics() const;
  /// Actual bound UDP addresses (port 0 resolved), in config order — for tests.
  std::vector<SocketAddress> boundUdp() const;
  /// Actual bound TCP addresses, in the same order as boundUdp().
  std::vector<SocketAddress> boundTcp() const;

  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

 private:
  explicit Server(std::unique_ptr<ServerImpl> impl);
  std::unique_ptr<ServerImpl> impl_;
};

}  // namespace nld::resolver
