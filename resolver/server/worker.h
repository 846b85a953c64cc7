// Worker: one serving thread — its epoll loop, its own SO_REUSEPORT UDP and TCP sockets per
// listener, its TCP client connections, its Forwarder (upstream sockets + in-flight table) and
// its metric slots. Shared with other workers: only the caches and the config snapshot.
//
// Per query (the only per-query code path): parse → FORMERR/NOTIMP or drop → route by longest
// zone on the listener (none: REFUSED, counted under zone="dropped") → the block's cache if
// its scope covers the name (`cache ZONES`) → on a miss, coalesce with an identical in-flight
// query or forward; answers of a `disable`d class are not stored. Cache hits are answered
// inside the recvmmsg/sendmmsg batch with no allocation and no lock beyond the cache shard's.
// `errors` (failures only, rate-limited) and `log` (per query, only when configured) write
// through the server logger; neither costs anything on a hit when not configured.
//
// Threading: run() on the worker thread; post*() from any thread.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <unordered_map>
#include <vector>

#include "base/fd.h"
#include "resolver/cache/cache_key.h"
#include "resolver/forward/forwarder.h"
#include "resolver/net/blocking_read.h"
#include "resolver/net/event_loop.h"
#include "resolver/net/framed_conn.h"
#include "resolver/resolver.h"
#include "resolver/server/query_log.h"
#include "resolver/server/snapshot.h"

namespace nld::resolver::server {

struct WorkerSockets {
  std::vector<Fd> udp;  ///< per snapshot listener (invalid Fd = not bound)
  std::vector<Fd> tcp;
};

struct WorkerOptions {
  std::chrono::milliseconds tcp_idle_timeout{10000};
  unsigned tcp_max_connections = 1024;
  unsigned max_upstream_queries = 1024;  ///< in flight per worker, 0 = unbounded
  UdpWait udp_wait = UdpWait::kEpoll;
  /// TCP bounds (both directions); tcp_idle_timeout above overrides tcp.idle_timeout.
  net::TcpLimits tcp;
  /// Tests: virtual time and scripted upstreams (null = the system's; see ServerOptions).
  net::Clock* clock = nullptr;
  forward::UpstreamTransport* transport = nullptr;
};

class Worker {
 public:
  static Result<std::unique_ptr<Worker>> create(unsigned index, metrics::Registry& registry,
                                                const WorkerOptions& options);
  ~Worker();

  /// Installs a snapshot and the sockets for its listeners (before run(), or via post()).
  void install(std::shared_ptr<const Snapshot> snapshot, WorkerSockets sockets);
  /// Thread-safe: installs on the worker thread.
  void postInstall(std::shared_ptr<const Snapshot> snapshot, WorkerSockets sockets);
  /// Thread-safe: answers what is queued on the listeners, then closes them (TCP client
  /// connections keep being served). `done` is called on the worker thread afterwards.
  void postStopAccepting(std::function<void()> done = {});
  /// Closes the listeners at once: only before run() started.
  void closeListenersNow() noexcept { closeListeners(); }
  /// Thread-safe: ends run() after the current iteration.
  void postStop();

  void run();

  uint64_t progress() const noexcept { return progress_.load(std::memory_order_relaxed); }
  void countPackets(uint64_t n) noexcept {
    progress_.store(progress_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  /// Queries waiting for upstream answers (approximate, any thread).
  size_t pending() const noexcept { return pending_count_.load(std::memory_order_relaxed); }

 private:
  struct Waiter;
  struct Pending;
  class UdpListener;
  class TcpListener;
  class TcpClient;
  class TcpSlot;
  struct CoalesceKey {
    cache::CacheKey key;
    uint64_t generation;
    uint16_t block;
    friend bool operator==(const CoalesceKey& a, const CoalesceKey& b) noexcept {
      return a.generation == b.generation && a.block == b.block && a.key == b.key;
    }
  };
  struct CoalesceHash {
    size_t operator()(const CoalesceKey& k) const noexcept {
      return static_cast<size_t>(k.key.hash ^ (k.generation << 20) ^ k.block);
    }
  };
  /// A cache hit's duration, observed once per batch (one clock read per batch, not per query).
  struct DeferredObservation {
    metrics::Histogram* histogram = nullptr;
  };
  /// Where the answer goes.
  struct Client {
    bool tcp = false;
    size_t listener = 0;
    uint64_t conn_id = 0;
    const sockaddr_storage* peer = nullptr;
    socklen_t peer_len = 0;
    const uint8_t* control = nullptr;  ///< reply source (wildcard listeners), or null
    size_t control_len = 0;
    net::MonoTime received;                ///< when the batch/read was received
    DeferredObservation* defer = nullptr;  ///< UDP batches: record here instead of observing
  };

  Worker(unsigned index, std::unique_ptr<net::EventLoop> loop,
         std::unique_ptr<net::BlockingRead> blocking, metrics::Registry& registry,
         const WorkerOptions& options);

  /// Handles one query; returns the length of an immediate answer written to `out` (0 = none:
  /// dropped, or forwarded and answered later).
  size_t handleQuery(size_t listener, std::span<const uint8_t> wire, std::span<uint8_t> out,
                     const Client& client) noexcept;
  void startForward(const Snapshot& snap, const RouteZone& route, const cache::CacheKey& key,
                    std::span<const uint8_t> wire, const dns::Query& q, const Client* client,
                    bool verify, size_t type_index) noexcept;
  /// The answering plugins after the cache (CoreDNS order: template, hosts) for a block that has
  /// any: the answer's length (cached as CoreDNS's cache would, counted, logged), or 0 when every
  /// plugin passed the query on (to `forward`).
  size_t answerFromPlugins(const BlockRuntime& block, metrics::ZoneStats& zs,
                           const cache::CacheKey& key, std::span<const uint8_t> wire,
                           const dns::Query& q, std::span<uint8_t> out, const Client& client,
                           size_t type_index) noexcept;
  void onForwardDone(uint64_t token, std::span<const uint8_t> answer) noexcept;
  /// `errors`: logs "plugin/errors: RCODE QNAME QTYPE: TEXT" (rate-limited; `describe` is only
  /// called for lines actually written).
  template <typename Describe>
  void reportError(const BlockRuntime& block, unsigned rcode, const cache::CacheKey& key,
                   Describe&& describe) noexcept;
  /// `log`: one common-log-format line if a log rule of the block selects this query.
  void logQuery(const BlockRuntime& block, bool tcp, uint64_t conn_id, const sockaddr_storage* peer,
                socklen_t peer_len, size_t query_size, const dns::Query& q,
                const cache::CacheKey& key, std::span<const uint8_t> answer,
                net::MonoTime start) noexcept;
  void deliver(const Waiter& w, std::span<const uint8_t> answer) noexcept;
  void onUdpReadable(UdpListener& l) noexcept;
  /// One recvmmsg() on `l` (with `recv_flags`), answers, sendmmsg(). Returns what recvmmsg()
  /// returned.
  int serveUdpBatch(UdpListener& l, int recv_flags) noexcept;
  /// The listener to block on now (UdpWait), or null to wait in epoll_wait().
  UdpListener* blockingCandidate() noexcept;
  void serveBlocking(UdpListener& l) noexcept;
  /// Accepts up to `batch` connections. Small per wake-up (the rest next round, level-
  /// triggered): under a connection flood each accept may also evict, and UDP answers wait.
  void onAccept(TcpListener& l, int batch = 64) noexcept;
  void closeClient(uint64_t id) noexcept;
  /// Closes the connection least worth keeping (the oldest without a complete query, else the
  /// least recently useful), counted as evicted. False if there is none.
  bool evictOne() noexcept;
  /// A TCP client's query started (stopped) waiting for an upstream answer.
  void tcpQueryQueued(uint64_t conn_id) noexcept;
  void tcpQueryDone(uint64_t conn_id) noexcept;
  /// Over the worker's TCP buffer bound: closes the client connections holding most.
  void shedTcpMemory() noexcept;
  void sweep() noexcept;
  void installNow(std::shared_ptr<const Snapshot> snapshot, WorkerSockets sockets);
  void closeListeners() noexcept;

  unsigned index_;
  std::unique_ptr<net::EventLoop> loop_;
  std::unique_ptr<net::BlockingRead> blocking_;  ///< UdpWait kAuto/kEager; null: epoll only
  metrics::Registry& registry_;
  WorkerOptions options_;
  // Before forwarder_ and clients_: their connections count their bytes here until destroyed.
  net::TcpLimits tcp_limits_;
  net::TcpBudget tcp_budget_;
  metrics::TcpStats* tcp_stats_;
  std::unique_ptr<forward::Forwarder> forwarder_;
  std::shared_ptr<const Snapshot> snap_;
  std::vector<std::unique_ptr<UdpListener>> udp_;
  std::vector<std::unique_ptr<TcpListener>> tcp_;
  std::unordered_map<uint64_t, std::unique_ptr<TcpClient>> clients_;
  std::list<uint64_t> client_lru_;    ///< client ids, least recently useful (complete query) first
  std::list<uint64_t> client_fresh_;  ///< client ids without a complete query yet, oldest first
  uint64_t next_client_id_ = 1;
  bool tcp_listeners_paused_ = false;  ///< a listener left epoll on EMFILE (sweep re-arms it)
  std::unordered_map<uint64_t, std::unique_ptr<Pending>> pending_;
  std::unordered_map<CoalesceKey, uint64_t, CoalesceHash> coalesce_;
  uint64_t next_token_ = 1;
  std::atomic<uint64_t> progress_{0};
  std::atomic<size_t> pending_count_{0};
  bool stop_ = false;
  // UdpWait bookkeeping: the UDP listener dispatched in round udp_ready_round_, how many rounds
  // in a row it was the only ready fd, and how many are needed before blocking on it.
  UdpListener* udp_ready_ = nullptr;
  uint64_t udp_ready_round_ = 0;
  unsigned udp_only_rounds_ = 0;
  unsigned block_after_rounds_;
  std::vector<uint8_t> scratch_;  ///< 64 KiB: TCP answers and forwarded answers
  struct Batch;
  std::unique_ptr<Batch> batch_;
  ErrorLimiter error_limiter_;
  /// `consolidate` counts of this worker, each summarized `period` after its first error.
  struct Consolidating {
    std::shared_ptr<const ConsolidateRule> rule;
    uint64_t count = 0;
    net::MonoTime due;
  };
  std::vector<Consolidating> consolidating_;
  void flushConsolidated(net::MonoTime now, bool all) noexcept;
};

/// kHealthProbeName on the wire (lower case, as cache keys hold names).
inline constexpr uint8_t kProbeWire[] = {6,   'h', 'e', 'a', 'l', 't', 'h', 12,  'n', 'o', 'd',
                                         'e', 'l', 'o', 'c', 'a', 'l', 'd', 'n', 's', 0};

}  // namespace nld::resolver::server
