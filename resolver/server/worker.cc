#include "resolver/server/worker.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

#include "base/log.h"
#include "resolver/dns/builder.h"
#include "resolver/dns/message.h"
#include "resolver/dns/name.h"
#include "resolver/dns/rr_walk.h"
#include "resolver/net/socket.h"
#include "resolver/net/tcp_framing.h"

namespace nld::resolver::server {

using metrics::Plugin;
using net::MonoTime;

namespace {

constexpr size_t kMaxUdpAnswer = 4096;

net::TcpLimits tcpLimitsOf(const WorkerOptions& o) noexcept {
  net::TcpLimits l = o.tcp;
  l.idle_timeout = o.tcp_idle_timeout;
  l.max_in_flight = std::max(l.max_in_flight, 1u);
  l.output_low = std::min(l.output_low, l.output_high);
  return l;
}

/// How often the TCP deadlines are checked: a quarter of the shortest, 10 ms .. 1 s.
std::chrono::milliseconds sweepPeriod(const net::TcpLimits& l) noexcept {
  auto shortest = std::min(l.idle_timeout, l.query_timeout);
  return std::clamp(shortest / 4, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
}

uint64_t elapsedNs(const net::Clock& clock, MonoTime start) noexcept {
  auto d = clock.now() - start;
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  return ns > 0 ? static_cast<uint64_t>(ns) : 0;
}

bool isDenial(std::span<const uint8_t> answer) noexcept {
  if (answer.size() < dns::kHeaderSize) {
    return false;
  }
  return dns::headerRcode(answer) == dns::Rcode::kNxDomain ||
         dns::headerCount(answer, dns::hdr::kAncount) == 0;
}

size_t rcodeOf(std::span<const uint8_t> answer) noexcept {
  return answer.size() >= dns::kHeaderSize
             ? metrics::rcodeIndex(static_cast<unsigned>(dns::headerRcode(answer)))
             : 0;
}

/// The response half of CoreDNS's vars.Report: rcode/plugin and the response size.
void countResponse(metrics::ZoneStats& zs, bool tcp, Plugin plugin,
                   std::span<const uint8_t> answer) noexcept {
  zs.responses[static_cast<size_t>(plugin)][rcodeOf(answer)].inc();
  zs.response_size[tcp ? 1 : 0].observe(answer.size());
}

/// The request half: proto/family/type, the query's size, the DO bit.
void countRequest(metrics::ZoneStats& zs, bool tcp, size_t family, size_t type_index, size_t size,
                  bool do_bit) noexcept {
  zs.requests[tcp ? 1 : 0][family][type_index].inc();
  zs.request_size[tcp ? 1 : 0].observe(size);
  if (do_bit) {
    zs.do_requests.inc();
  }
}

/// The ErrorLimiter's summary of errors it did not let through.
void logSuppressed(uint64_t n) noexcept {
  if (n > 0) {
    NLD_LOG(kServer, err,
            "plugin/errors: {} more errors not logged (at most {} per second per worker)", n,
            ErrorLimiter::kPerSecond);
  }
}

}  // namespace

/// Held by a TCP client's Waiter: the query counts against its connection's in-flight cap until
/// the waiter is gone (answered, refused, dropped, or the worker stopped).
class Worker::TcpSlot {
 public:
  TcpSlot() = default;
  TcpSlot(Worker* w, uint64_t conn_id) noexcept : w_(w), conn_id_(conn_id) {
    w_->tcpQueryQueued(conn_id_);
  }
  TcpSlot(TcpSlot&& o) noexcept : w_(std::exchange(o.w_, nullptr)), conn_id_(o.conn_id_) {}
  TcpSlot& operator=(TcpSlot&& o) noexcept {
    if (this != &o) {
      release();
      w_ = std::exchange(o.w_, nullptr);
      conn_id_ = o.conn_id_;
    }
    return *this;
  }
  ~TcpSlot() { release(); }

 private:
  void release() noexcept {
    if (w_ != nullptr) {
      std::exchange(w_, nullptr)->tcpQueryDone(conn_id_);
    }
  }
  Worker* w_ = nullptr;
  uint64_t conn_id_ = 0;
};

struct Worker::Waiter {
  bool tcp = false;
  size_t listener = 0;
  uint64_t conn_id = 0;
  sockaddr_storage peer{};
  socklen_t peer_len = 0;
  /// dns::buildWaiterQuery() of the client's query: what the answer needs (header, question,
  /// EDNS facts), bounded whatever the query's size, so coalesced waiters cost no more than
  /// ~500 bytes each however much padding their queries carried.
  std::span<const uint8_t> query() const noexcept { return {query_buf, query_len}; }
  uint8_t query_buf[dns::kWaiterQueryMax];
  uint16_t query_len = 0;
  size_t query_size = 0;  ///< the client's query as received (the log's size)
  MonoTime start;
  size_t type_index = 0;
  alignas(cmsghdr) uint8_t control[net::kControlSize];
  size_t control_len = 0;
  TcpSlot tcp_slot;  ///< TCP: counts against the connection's in-flight cap
};

struct Worker::Pending {
  uint64_t token = 0;
  std::shared_ptr<const Snapshot> snap;
  uint16_t block = 0;
  cache::CacheKey key;
  CoalesceKey ck;
  bool verify = false;
  metrics::ZoneStats* zone_stats = nullptr;  // per-worker array
  std::vector<Waiter> waiters;
};

struct Worker::Batch {
  static constexpr size_t kSize = 32;
  mmsghdr rx[kSize];
  iovec rx_iov[kSize];
  sockaddr_storage peers[kSize];
  mmsghdr tx[kSize];
  iovec tx_iov[kSize];
  alignas(cmsghdr) uint8_t rx_ctl[kSize][net::kControlSize];
  alignas(cmsghdr) uint8_t reply_ctl[kSize][net::kControlSize];
  alignas(64) uint8_t rx_buf[kSize][kMaxUdpAnswer];
  alignas(64) uint8_t tx_buf[kSize][kMaxUdpAnswer];
  // rx slots [0, rx_dirty) were written by the last recvmmsg() (name and control lengths): only
  // those need resetting, for the control mode the slots were last set up for.
  size_t rx_dirty = kSize;
  bool rx_pktinfo = false;

  Batch() {
    std::memset(rx, 0, sizeof rx);
    std::memset(tx, 0, sizeof tx);
    for (size_t i = 0; i < kSize; ++i) {
      rx_iov[i] = {rx_buf[i], kMaxUdpAnswer};
      rx[i].msg_hdr.msg_iov = &rx_iov[i];
      rx[i].msg_hdr.msg_iovlen = 1;
      rx[i].msg_hdr.msg_name = &peers[i];
      tx[i].msg_hdr.msg_iov = &tx_iov[i];
      tx[i].msg_hdr.msg_iovlen = 1;
    }
  }
};

class Worker::UdpListener final : public net::IoHandler {
 public:
  UdpListener(Worker& w, size_t index, Fd fd, bool pktinfo)
      : w_(w), index_(index), fd_(std::move(fd)), pktinfo_(pktinfo) {
    // A blocking socket, so a recvmmsg() without MSG_DONTWAIT waits (UdpWait); every other
    // call passes MSG_DONTWAIT.
    int flags = ::fcntl(fd_.get(), F_GETFL);
    blocking_ = flags >= 0 && ::fcntl(fd_.get(), F_SETFL, flags & ~O_NONBLOCK) == 0;
  }
  void onIo(uint32_t) noexcept override {
    w_.udp_ready_ = this;
    w_.udp_ready_round_ = w_.loop_->rounds();
    w_.onUdpReadable(*this);
  }
  bool blocking() const noexcept { return blocking_; }
  bool pktinfo() const noexcept { return pktinfo_; }
  int fd() const noexcept { return fd_.get(); }
  size_t index() const noexcept { return index_; }
  void setIndex(size_t i) noexcept { index_ = i; }
  Fd take() noexcept { return std::move(fd_); }

 private:
  Worker& w_;
  size_t index_;
  Fd fd_;
  bool pktinfo_;
  bool blocking_ = false;
};

class Worker::TcpListener final : public net::IoHandler {
 public:
  TcpListener(Worker& w, size_t index, Fd fd) : w_(w), index_(index), fd_(std::move(fd)) {}
  void onIo(uint32_t) noexcept override { w_.onAccept(*this); }
  int fd() const noexcept { return fd_.get(); }
  /// Not watched (out of descriptors) until the next sweep.
  bool paused() const noexcept { return paused_; }
  void setPaused(bool paused) noexcept { paused_ = paused; }
  size_t index() const noexcept { return index_; }
  void setIndex(size_t i) noexcept { index_ = i; }
  Fd take() noexcept { return std::move(fd_); }

 private:
  Worker& w_;
  size_t index_;
  Fd fd_;
  bool paused_ = false;
};

// One DNS-over-TCP client connection (RFC 7766) and its limits (issue 10): reading stops while
// the queued answers are above the high watermark or the queries in flight at the cap (and
// while complete queries wait to be processed, so at most one read beyond a message is
// buffered); after the client's FIN every query that arrived is answered, then the connection
// closes. Deadlines (sweep): a started or first query not complete within the query timeout,
// output not written for the idle timeout, no complete query for the idle timeout.
class Worker::TcpClient final : public net::IoHandler {
 public:
  TcpClient(Worker& w, uint64_t id, size_t listener, Fd fd, std::list<uint64_t>::iterator lru)
      : w_(w),
        id_(id),
        listener_(listener),
        conn_(std::move(fd), &w.tcp_budget_, w.loop_->now()),
        lru_(lru),
        accepted_(w.loop_->now()),
        last_query_(accepted_) {
    conn_.setWatermarks(w.tcp_limits_.output_high, w.tcp_limits_.output_low);
  }

  void onIo(uint32_t events) noexcept override {
    if (closed_) {
      return;
    }
    if (events & (EPOLLERR | EPOLLHUP)) {
      w_.closeClient(id_);  // reset, or both directions shut: no answer can reach the client
      return;
    }
    if (events & EPOLLIN) {
      // A bounded amount per wake-up, so one busy connection cannot hold the worker.
      for (size_t got_bytes = 0; got_bytes < kReadPerWake && mayRead();) {
        auto got = conn_.read(w_.loop_->now());
        if (got == net::FramedConn::Read::kAgain || got == net::FramedConn::Read::kEof) {
          break;
        }
        if (got == net::FramedConn::Read::kError) {
          w_.closeClient(id_);
          return;
        }
        if (w_.tcp_budget_.over()) {
          w_.shedTcpMemory();  // a read grew a buffer past the worker's bound
          if (closed_) {
            return;
          }
        }
        got_bytes += 4096;
        process();
        if (closed_) {
          return;
        }
      }
    }
    // What a pause left buffered (woken by EPOLLOUT once it ended); again while the kernel
    // takes every answer at once (nothing of ours stays queued to wake us when writable).
    for (int round = 0; round < 16; ++round) {
      process();
      flush();
      if (closed_ || conn_.pending() > 0 || !reading() || !conn_.hasMessage()) {
        break;
      }
    }
  }

  void send(std::span<const uint8_t> answer) noexcept {
    if (closed_) {
      return;
    }
    queue(answer);
    flush();
  }

  void flush() noexcept {
    if (closed_) {
      return;
    }
    if (!conn_.flush(w_.loop_->now())) {
      w_.closeClient(id_);
      return;
    }
    if (conn_.eof() && !conn_.hasMessage() && in_flight_ == 0 && conn_.pending() == 0) {
      w_.closeClient(id_);  // half-closed and every query answered
      return;
    }
    uint32_t want = 0;
    const bool may_process = reading();
    if (!may_process) {
      blocked_ = true;
    } else if (blocked_) {
      blocked_ = false;
      conn_.restartPartialClock(w_.loop_->now());  // the client could not send meanwhile
    }
    if (may_process && !conn_.eof() && !conn_.hasMessage()) {
      want |= EPOLLIN;
    }
    if (conn_.pending() > 0 || (may_process && conn_.hasMessage())) {
      want |= EPOLLOUT;  // writable is also the wake-up to process queries a pause left
    }
    if (want != interest_) {
      interest_ = want;
      w_.loop_->modify(conn_.fd(), want, this);
    }
  }

  void queryQueued() noexcept {
    if (++in_flight_ == w_.tcp_limits_.max_in_flight) {
      w_.tcp_stats_->pause(false, metrics::TcpPause::kInFlight);
    }
  }
  void queryDone() noexcept {
    if (in_flight_ > 0) {
      --in_flight_;
    }
    flush();
  }

  /// The limit this connection is past at `now`, if any.
  std::optional<metrics::TcpClose> expired(MonoTime now) noexcept {
    const auto& lim = w_.tcp_limits_;
    if (conn_.stalledAt(now, lim.idle_timeout)) {
      return metrics::TcpClose::kWriteTimeout;  // the client does not read its answers
    }
    if (reading() && conn_.partial() && now - conn_.partialSince() > lim.query_timeout) {
      return metrics::TcpClose::kQueryTimeout;
    }
    const bool quiet =
        in_flight_ == 0 && conn_.pending() == 0 && !conn_.hasMessage() && !conn_.partial();
    if (quiet && !had_query_ && now - accepted_ > lim.query_timeout) {
      return metrics::TcpClose::kQueryTimeout;
    }
    if (quiet && now - last_query_ > lim.idle_timeout) {
      return metrics::TcpClose::kIdle;
    }
    return std::nullopt;
  }

  void close() noexcept {
    if (!closed_) {
      closed_ = true;
      w_.loop_->remove(conn_.fd());
      conn_.close();
    }
  }
  int fd() const noexcept { return conn_.fd(); }
  size_t held() const noexcept { return conn_.held(); }
  std::list<uint64_t>::iterator lru() const noexcept { return lru_; }
  /// A complete query arrived: the connection is in client_lru_, else in client_fresh_.
  bool hadQuery() const noexcept { return had_query_; }

 private:
  static constexpr size_t kReadPerWake = 64 << 10;

  /// No limit holds reading back (the query deadline only runs meanwhile).
  bool reading() const noexcept {
    return !conn_.readPaused() && in_flight_ < w_.tcp_limits_.max_in_flight;
  }

  bool mayRead() const noexcept {
    return !closed_ && !conn_.eof() && !conn_.readPaused() && !conn_.hasMessage() &&
           in_flight_ < w_.tcp_limits_.max_in_flight;
  }

  void queue(std::span<const uint8_t> answer) noexcept {
    const bool was_paused = conn_.readPaused();
    conn_.queue(answer, w_.loop_->now());
    if (conn_.readPaused() && !was_paused) {
      w_.tcp_stats_->pause(false, metrics::TcpPause::kOutput);
    }
    if (w_.tcp_budget_.over()) {
      w_.shedTcpMemory();
    }
  }

  /// Answers the complete queries buffered, while no limit says stop.
  void process() noexcept {
    while (!closed_ && !conn_.readPaused() && in_flight_ < w_.tcp_limits_.max_in_flight) {
      const MonoTime now = w_.loop_->now();
      auto msg = conn_.next(now);
      if (!msg) {
        break;
      }
      // (The first complete query moves the connection from the not-yet-useful list.)
      w_.client_lru_.splice(w_.client_lru_.end(), had_query_ ? w_.client_lru_ : w_.client_fresh_,
                            lru_);
      had_query_ = true;
      last_query_ = now;
      Client c;
      c.tcp = true;
      c.listener = listener_;
      c.conn_id = id_;
      c.received = w_.loop_->clock().now();
      w_.countPackets(1);
      size_t len = w_.handleQuery(listener_, *msg, w_.scratch_, c);
      if (closed_) {
        return;
      }
      if (len > 0) {
        queue(std::span<const uint8_t>(w_.scratch_.data(), len));
      }
    }
    if (!closed_ && conn_.broken()) {
      w_.closeClient(id_);
    }
  }

  Worker& w_;
  uint64_t id_;
  size_t listener_;
  net::FramedConn conn_;
  std::list<uint64_t>::iterator lru_;
  MonoTime accepted_;
  MonoTime last_query_;
  unsigned in_flight_ = 0;
  bool had_query_ = false;
  bool blocked_ = false;  ///< a limit held reading back at the last flush()
  bool closed_ = false;
  uint32_t interest_ = EPOLLIN;
};

namespace {
constexpr unsigned kBlockAfterRounds = 16;
constexpr unsigned kMaxBlockAfterRounds = 4096;
constexpr unsigned kNeverBlock = std::numeric_limits<unsigned>::max();

unsigned firstBlockAfter(UdpWait wait) noexcept {
  switch (wait) {
    case UdpWait::kEager:
      return 1;
    case UdpWait::kAuto:
      return kBlockAfterRounds;
    case UdpWait::kEpoll:
      break;
  }
  return kNeverBlock;
}
}  // namespace

Result<std::unique_ptr<Worker>> Worker::create(unsigned index, metrics::Registry& registry,
                                               const WorkerOptions& options) {
  auto loop =
      net::EventLoop::create(options.clock != nullptr ? *options.clock : net::systemClock());
  if (!loop) {
    return fail(std::move(loop.error()).withContext("worker " + std::to_string(index)));
  }
  // The blocking-read mode only when asked for: its watcher thread and the process's SIGURG
  // handler come with it (blocking_read.h).
  std::unique_ptr<net::BlockingRead> blocking;
  WorkerOptions opts = options;
  if (opts.udp_wait != UdpWait::kEpoll) {
    auto b = net::BlockingRead::create(**loop);
    if (b) {
      blocking = std::move(*b);
    } else {
      NLD_LOG(kServer, debug, "worker {}: {}; UDP waits in epoll only", index, b.error().message());
      opts.udp_wait = UdpWait::kEpoll;
    }
  }
  return std::unique_ptr<Worker>(
      new Worker(index, std::move(*loop), std::move(blocking), registry, opts));
}

Worker::Worker(unsigned index, std::unique_ptr<net::EventLoop> loop,
               std::unique_ptr<net::BlockingRead> blocking, metrics::Registry& registry,
               const WorkerOptions& options)
    : index_(index),
      loop_(std::move(loop)),
      blocking_(std::move(blocking)),
      registry_(registry),
      options_(options),
      tcp_limits_(tcpLimitsOf(options)),
      tcp_budget_(tcp_limits_.worker_bytes),
      tcp_stats_(&registry.tcp()[index]),
      block_after_rounds_(firstBlockAfter(options.udp_wait)),
      scratch_(65535),
      batch_(std::make_unique<Batch>()) {
  forwarder_ = std::make_unique<forward::Forwarder>(
      *loop_, [this](uint64_t token, std::span<const uint8_t> a) { onForwardDone(token, a); },
      registry_, index_, index_ == 0,
      options_.transport != nullptr ? *options_.transport : forward::systemTransport());
  forwarder_->setMaxInFlight(options_.max_upstream_queries);
  forwarder_->setTcpBounds(tcp_limits_, &tcp_budget_, tcp_stats_);
  tcp_budget_.setReclaim([](void* w) noexcept { static_cast<Worker*>(w)->shedTcpMemory(); }, this);
  loop_->addTick(
      std::chrono::milliseconds(10), [this] { forwarder_->tick(); },
      [this] { return forwarder_->needsTick(); });
  loop_->addTick(
      std::chrono::milliseconds(1000), [this] { forwarder_->expireIdle(); },
      [this] { return forwarder_->hasConnections(); });
  if (index_ == 0) {
    // The health prober: other workers may mark an upstream down while this one sleeps. Waking
    // every 500 ms (CoreDNS's default health_check interval) while any group can mark upstreams
    // down is enough for the forwarder's tick to see it and start probing.
    loop_->addTick(
        std::chrono::milliseconds(500), [] {}, [this] { return forwarder_->probesConfigured(); });
  }
  loop_->addTick(
      sweepPeriod(tcp_limits_), [this] { sweep(); },
      [this] {
        return !clients_.empty() || !consolidating_.empty() || error_limiter_.pending() ||
               tcp_listeners_paused_;
      });
}

Worker::~Worker() {
  forwarder_.reset();
  flushConsolidated(loop_->clock().now(), true);  // counts not yet summarized
  closeListeners();
  for (auto& [id, c] : clients_) {
    (void)id;
    c->close();
  }
  // Connections deferred by closeClient() and the forwarder count in tcp_budget_, which goes
  // before loop_ does.
  loop_->destroyDeferred();
}

void Worker::install(std::shared_ptr<const Snapshot> snapshot, WorkerSockets sockets) {
  installNow(std::move(snapshot), std::move(sockets));
}

void Worker::postInstall(std::shared_ptr<const Snapshot> snapshot, WorkerSockets sockets) {
  auto shared = std::make_shared<std::pair<std::shared_ptr<const Snapshot>, WorkerSockets>>(
      std::move(snapshot), std::move(sockets));
  loop_->post([this, shared] { installNow(std::move(shared->first), std::move(shared->second)); });
}

void Worker::installNow(std::shared_ptr<const Snapshot> snapshot, WorkerSockets sockets) {
  // Reuse our sockets for listeners that stay; take the new ones for the rest.
  std::vector<std::unique_ptr<UdpListener>> udp(snapshot->listeners.size());
  std::vector<std::unique_ptr<TcpListener>> tcp(snapshot->listeners.size());
  for (size_t i = 0; i < snapshot->listeners.size(); ++i) {
    const auto& addr = snapshot->listeners[i];
    if (snap_) {
      for (size_t j = 0; j < snap_->listeners.size() && j < udp_.size(); ++j) {
        if (snap_->listeners[j] == addr && udp_[j]) {
          udp[i] = std::move(udp_[j]);
          udp[i]->setIndex(i);
          if (j < tcp_.size() && tcp_[j]) {
            tcp[i] = std::move(tcp_[j]);
            tcp[i]->setIndex(i);
          }
        }
      }
    }
    if (!udp[i] && i < sockets.udp.size() && sockets.udp[i]) {
      udp[i] = std::make_unique<UdpListener>(*this, i, std::move(sockets.udp[i]),
                                             addr.ip.isUnspecified());
      loop_->add(udp[i]->fd(), EPOLLIN, udp[i].get());
    }
    if (!tcp[i] && i < sockets.tcp.size() && sockets.tcp[i]) {
      tcp[i] = std::make_unique<TcpListener>(*this, i, std::move(sockets.tcp[i]));
      loop_->add(tcp[i]->fd(), EPOLLIN, tcp[i].get());
    }
  }
  closeListeners();  // whatever was not taken over
  udp_ready_ = nullptr;
  udp_ = std::move(udp);
  tcp_ = std::move(tcp);
  snap_ = std::move(snapshot);
  forwarder_->setGroups(snap_->groups);
}

void Worker::closeListeners() noexcept {
  udp_ready_ = nullptr;
  for (auto& l : udp_) {
    if (l) {
      loop_->remove(l->fd());
    }
  }
  for (auto& l : tcp_) {
    if (l) {
      loop_->remove(l->fd());
    }
  }
  udp_.clear();
  tcp_.clear();
}

void Worker::postStopAccepting(std::function<void()> done) {
  loop_->post([this, done = std::move(done)] {
    // Per socket: out of epoll, answer what is queued, close at once — the kernel then hands new
    // datagrams and connections to the successor's sockets in the SO_REUSEPORT group. What
    // arrives between the last recvmmsg() and close() (about a microsecond) is lost.
    for (auto& l : tcp_) {
      if (l) {
        loop_->remove(l->fd());
        onAccept(*l, 1024);  // take over connections already in the accept queue
        // Destroyed here, not deferDelete()d: closed before done() (a task runs after the batch).
        l.reset();
      }
    }
    udp_ready_ = nullptr;
    for (auto& l : udp_) {
      if (l) {
        loop_->remove(l->fd());
        onUdpReadable(*l);
        l.reset();
      }
    }
    if (done) {
      done();
    }
  });
}

void Worker::postStop() {
  loop_->post([this] { stop_ = true; });
}

void Worker::run() {
  while (!stop_) {
    if (UdpListener* l = blockingCandidate()) {
      serveBlocking(*l);
      continue;
    }
    // No timeout of our own: stop and reloads are posted (they wake the loop), and ticks bound
    // the wait only while they have work.
    loop_->runOnce(net::EventLoop::kForever);
  }
  forwarder_->abortAll();
  // flush() may close its connection (half-closed and now answered, or reset), which erases
  // it from clients_: iterate over a copy of the ids.
  std::vector<uint64_t> ids;
  ids.reserve(clients_.size());
  for (const auto& [id, c] : clients_) {
    ids.push_back(id);
  }
  for (uint64_t id : ids) {
    if (auto it = clients_.find(id); it != clients_.end()) {
      it->second->flush();
    }
  }
}

Worker::UdpListener* Worker::blockingCandidate() noexcept {
  // Only one UDP listener was ready in the last round (and nothing else): it carries the load.
  if (udp_ready_ == nullptr || udp_ready_round_ != loop_->rounds() || loop_->lastEvents() != 1 ||
      !udp_ready_->blocking()) {
    udp_only_rounds_ = 0;
    return nullptr;
  }
  if (block_after_rounds_ == kNeverBlock || ++udp_only_rounds_ < block_after_rounds_) {
    return nullptr;
  }
  return udp_ready_;
}

void Worker::serveBlocking(UdpListener& l) noexcept {
  uint64_t batches = 0;
  bool ran = blocking_->run(l.fd(), EPOLLIN, &l, [&] {
    ++batches;
    return serveUdpBatch(l, MSG_WAITFORONE) > 0;
  });
  udp_only_rounds_ = 0;
  udp_ready_ = nullptr;  // the next runOnce() handles what interrupted us
  if (!ran) {
    block_after_rounds_ = kNeverBlock;  // this thread cannot take the signal: epoll only
  } else if (options_.udp_wait == UdpWait::kAuto) {
    // A short spell cost more in mode switches (a signal, two epoll_ctl) than it saved: mixed
    // traffic (misses, TCP) waits longer before the next one.
    block_after_rounds_ =
        batches >= 64 ? kBlockAfterRounds : std::min(block_after_rounds_ * 2, kMaxBlockAfterRounds);
  }
}

void Worker::onUdpReadable(UdpListener& l) noexcept {
  for (int round = 0; round < 16; ++round) {
    if (serveUdpBatch(l, MSG_DONTWAIT) < static_cast<int>(Batch::kSize)) {
      return;
    }
  }
}

int Worker::serveUdpBatch(UdpListener& l, int recv_flags) noexcept {
  Batch& b = *batch_;
  const int fd = l.fd();
  const bool pktinfo = l.pktinfo();
  const size_t reset = pktinfo == b.rx_pktinfo ? b.rx_dirty : Batch::kSize;
  b.rx_pktinfo = pktinfo;
  for (size_t i = 0; i < reset; ++i) {
    b.rx[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    if (pktinfo) {
      b.rx[i].msg_hdr.msg_control = b.rx_ctl[i];
      b.rx[i].msg_hdr.msg_controllen = net::kControlSize;
    } else {
      b.rx[i].msg_hdr.msg_control = nullptr;
      b.rx[i].msg_hdr.msg_controllen = 0;
    }
  }
  const bool blocking = (recv_flags & MSG_DONTWAIT) == 0;
  if (blocking && !blocking_->enterRead()) {
    return -1;
  }
  int n = ::recvmmsg(fd, b.rx, Batch::kSize, recv_flags, nullptr);
  if (blocking) {
    blocking_->leaveRead();
  }
  // (+1: the slot the kernel tried last and found nothing for, in case it wrote there too.)
  b.rx_dirty = std::min(static_cast<size_t>(std::max(n, 0)) + 1, Batch::kSize);
  if (n <= 0) {
    return n;
  }
  if (blocking) {
    loop_->refreshNow();  // we slept in recvmmsg()
  }
  countPackets(static_cast<uint64_t>(n));
  const MonoTime received = loop_->now();
  DeferredObservation defer[Batch::kSize];
  unsigned m = 0;
  for (int i = 0; i < n; ++i) {
    Client c;
    c.received = received;
    c.defer = &defer[i];
    c.listener = l.index();
    c.peer = &b.peers[i];
    c.peer_len = b.rx[i].msg_hdr.msg_namelen;
    if (pktinfo) {
      c.control_len =
          net::replyControl(b.rx_ctl[i], b.rx[i].msg_hdr.msg_controllen, b.reply_ctl[i]);
      c.control = c.control_len > 0 ? b.reply_ctl[i] : nullptr;
    }
    size_t len = handleQuery(l.index(), std::span<const uint8_t>(b.rx_buf[i], b.rx[i].msg_len),
                             std::span<uint8_t>(b.tx_buf[m], kMaxUdpAnswer), c);
    if (len > 0) {
      b.tx_iov[m].iov_base = b.tx_buf[m];
      b.tx_iov[m].iov_len = len;
      b.tx[m].msg_hdr.msg_name = &b.peers[i];
      b.tx[m].msg_hdr.msg_namelen = c.peer_len;
      b.tx[m].msg_hdr.msg_control = const_cast<uint8_t*>(c.control);
      b.tx[m].msg_hdr.msg_controllen = c.control_len;
      ++m;
    }
  }
  if (m > 0) {
    uint64_t ns = elapsedNs(loop_->clock(), received);
    for (int i = 0; i < n; ++i) {
      if (defer[i].histogram != nullptr) {
        defer[i].histogram->observe(ns);
      }
    }
  }
  unsigned sent = 0;
  while (sent < m) {
    int k = ::sendmmsg(fd, b.tx + sent, m - sent, MSG_DONTWAIT);
    if (k <= 0) {
      if (k < 0 && errno == EINTR) {
        continue;
      }
      ++sent;  // drop this one (e.g. EAGAIN on a full buffer, or an unreachable peer)
      continue;
    }
    sent += static_cast<unsigned>(k);
  }
  return n;
}

size_t Worker::handleQuery(size_t listener, std::span<const uint8_t> wire, std::span<uint8_t> out,
                           const Client& client) noexcept {
  const Snapshot& snap = *snap_;
  auto q = dns::parseQuery(wire);
  if (!q) {
    if (!dns::shouldAnswer(q.error())) {
      return 0;
    }
    return dns::buildErrorResponse(wire, dns::errorRcode(q.error()), out);
  }
  auto key = cache::makeKey(*q, wire);
  if (!key) {
    return dns::buildErrorResponse(wire, dns::Rcode::kFormErr, out);
  }
  if (q->qclass == dns::qclass::kCh && q->qtype == dns::qtype::kTxt) {
    if (key->name_length == sizeof kProbeWire &&
        std::memcmp(key->name.data(), kProbeWire, sizeof kProbeWire) == 0) {
      return dns::buildErrorResponse(wire, dns::Rcode::kNoError, out);
    }
  }
  const size_t family = snap.listeners[listener].ip.isV4() ? 0 : 1;
  const size_t type_index = metrics::typeIndex(q->qtype);
  const RouteZone* route = snap.route(listener, key->name.data(), key->name_length);
  if (route == nullptr) {
    // CoreDNS errorAndMetricsFunc: REFUSED, reported under zone="dropped" with no duration.
    size_t len = dns::buildErrorResponse(wire, dns::Rcode::kRefused, out);
    if (listener < snap.dropped_stats.size()) {
      metrics::ZoneStats& ds = snap.dropped_stats[listener][index_];
      countRequest(ds, client.tcp, family, type_index, wire.size(), q->doBit());
      countResponse(ds, client.tcp, Plugin::kNone, out.first(len));
      ds.duration[type_index].observe(0);
    }
    return len;
  }
  metrics::ZoneStats& zs = route->stats[index_];
  countRequest(zs, client.tcp, family, type_index, wire.size(), q->doBit());
  const BlockRuntime& block = snap.blocks[route->block];
  const MonoTime start = client.received;

  bool verify = false;
  if (block.cache && block.cache_scope.covers(key->name.data(), key->name_length)) {
    metrics::CacheStats* cs = snap.cache_stats[listener][route->block];
    if (cs != nullptr) {
      cs += index_;
      cs->requests.inc();
    }
    auto hit = block.cache->lookup(*key, *q, wire, out, start);
    switch (hit.outcome) {
      case cache::Outcome::kFresh:
      case cache::Outcome::kFreshPrefetch:
      case cache::Outcome::kStale: {
        size_t len = hit.length;
        if (!client.tcp) {
          size_t limit = std::min(q->udpLimit(), out.size());
          if (len > limit) {
            len = dns::truncateToFit(out, len, limit);
          }
        }
        if (cs != nullptr) {
          cs->hits[isDenial(out.first(hit.length)) ? 1 : 0].inc();
          if (hit.outcome == cache::Outcome::kStale) {
            cs->served_stale.inc();
          } else if (hit.outcome == cache::Outcome::kFreshPrefetch) {
            cs->prefetch.inc();
          }
        }
        if (hit.outcome != cache::Outcome::kFresh && block.forward &&
            block.forwards(key->name.data(), key->name_length)) {
          // Background refresh: the client has its answer already.
          startForward(snap, *route, *key, wire, *q, nullptr, false, type_index);
        }
        countResponse(zs, client.tcp, Plugin::kCache, out.first(len));
        if (client.defer != nullptr) {
          client.defer->histogram = &zs.duration[type_index];
        } else {
          zs.duration[type_index].observe(elapsedNs(loop_->clock(), start));
        }
        if (!block.log_rules.empty()) [[unlikely]] {
          logQuery(block, client.tcp, client.conn_id, client.peer, client.peer_len, wire.size(), *q,
                   *key, out.first(len), start);
        }
        return len;
      }
      case cache::Outcome::kStaleVerifyFirst:
        verify = true;
        [[fallthrough]];
      case cache::Outcome::kMiss:
        if (cs != nullptr) {
          cs->misses.inc();
        }
        break;
    }
  }
  if (block.has_plugins) [[unlikely]] {
    if (size_t len = answerFromPlugins(block, zs, *key, wire, *q, out, client, type_index)) {
      return len;
    }
  }
  if (!block.forward || !block.forwards(key->name.data(), key->name_length)) {
    size_t len = dns::buildErrorResponse(wire, dns::Rcode::kServFail, out);
    countResponse(zs, client.tcp, Plugin::kNone, out.first(len));
    // CoreDNS plugin.NextOrFailure: the last plugin in the chain has no next one.
    reportError(block, 2, *key, [&block] {
      return std::string(block.forward ? "plugin/forward"
                         : block.cache ? "plugin/cache"
                                       : "plugin/errors") +
             ": no next plugin found";
    });
    if (!block.log_rules.empty()) {
      logQuery(block, client.tcp, client.conn_id, client.peer, client.peer_len, wire.size(), *q,
               *key, out.first(len), start);
    }
    return len;
  }
  startForward(snap, *route, *key, wire, *q, &client, verify, type_index);
  return 0;
}

// Answering plugins (hosts, template) ---------------------------------------------------------

size_t Worker::answerFromPlugins(const BlockRuntime& block, metrics::ZoneStats& zs,
                                 const cache::CacheKey& key, std::span<const uint8_t> wire,
                                 const dns::Query& q, std::span<uint8_t> out, const Client& client,
                                 size_t type_index) noexcept {
  const MonoTime start = client.received;
  plugins::Outcome o;
  Plugin which = Plugin::kNone;
  if (block.templates) {
    o = block.templates->serve(q, wire, key.name.data(), key.name_length, out);
    which = Plugin::kTemplate;
  }
  if (block.hosts && o.kind == plugins::Outcome::Kind::kNext) {
    o = block.hosts->serve(q, wire, key.name.data(), key.name_length, out, start);
    which = Plugin::kHosts;
  }
  if (o.kind == plugins::Outcome::Kind::kNext) {
    return 0;
  }
  size_t len = 0;
  if (o.kind == plugins::Outcome::Kind::kServFail) {
    // CoreDNS: the plugin returns SERVFAIL, the server writes it; the cache never sees it.
    len = dns::buildErrorResponse(wire, dns::Rcode::kServFail, out);
    which = Plugin::kNone;
  } else {
    len = o.length;
    // cache sits before hosts/template in plugin.cfg: CoreDNS caches their answers.
    if (block.cache && block.cache_scope.covers(key.name.data(), key.name_length)) {
      if (auto info = dns::inspectResponse(out.first(len));
          info && block.cache_scope.mayStore(key.name.data(), key.name_length, info->type)) {
        block.cache->insert(key, out.first(len), *info, start);
      }
    }
    if (!client.tcp) {
      size_t limit = std::min(q.udpLimit(), out.size());
      if (len > limit) {
        len = dns::truncateToFit(out, len, limit);
      }
    }
  }
  countResponse(zs, client.tcp, which, out.first(len));
  if (client.defer != nullptr) {
    client.defer->histogram = &zs.duration[type_index];
  } else {
    zs.duration[type_index].observe(elapsedNs(loop_->clock(), start));
  }
  if (!block.log_rules.empty()) {
    logQuery(block, client.tcp, client.conn_id, client.peer, client.peer_len, wire.size(), q, key,
             out.first(len), start);
  }
  return len;
}

void Worker::startForward(const Snapshot& snap, const RouteZone& route, const cache::CacheKey& key,
                          std::span<const uint8_t> wire, const dns::Query& q, const Client* client,
                          bool verify, size_t type_index) noexcept {
  CoalesceKey ck{key, snap.generation, route.block};
  Pending* p = nullptr;
  bool fresh = false;
  auto it = coalesce_.find(ck);
  if (it != coalesce_.end()) {
    p = pending_[it->second].get();
  } else {
    auto np = std::make_unique<Pending>();
    np->token = next_token_++;
    np->snap = snap_;
    np->block = route.block;
    np->key = key;
    np->ck = ck;
    np->verify = verify;
    np->zone_stats = route.stats;
    p = np.get();
    coalesce_.emplace(ck, np->token);
    pending_.emplace(np->token, std::move(np));
    pending_count_.store(pending_.size(), std::memory_order_relaxed);
    fresh = true;
  }
  if (client != nullptr) {
    Waiter w;
    w.tcp = client->tcp;
    w.listener = client->listener;
    w.conn_id = client->conn_id;
    if (client->peer != nullptr) {
      std::memcpy(&w.peer, client->peer, client->peer_len);
      w.peer_len = client->peer_len;
    }
    if (client->control != nullptr && client->control_len <= sizeof w.control) {
      std::memcpy(w.control, client->control, client->control_len);
      w.control_len = client->control_len;
    }
    w.query_len = static_cast<uint16_t>(dns::buildWaiterQuery(wire, q, w.query_buf));
    w.query_size = wire.size();
    w.start = loop_->clock().now();
    w.type_index = type_index;
    if (w.tcp) {
      w.tcp_slot = TcpSlot(this, w.conn_id);
    }
    p->waiters.push_back(std::move(w));
  }
  if (!fresh) {
    return;
  }
  uint64_t token = p->token;
  // Our own query (the client's question, our OPT): no client cookie or padding goes upstream,
  // and the answer is shared by every waiter.
  uint8_t upstream_query[dns::kHeaderSize + dns::kMaxNameLength + 4 + dns::kOptRrSize];
  const size_t upstream_len = dns::buildUpstreamQuery(wire, q, upstream_query);
  auto started = forwarder_->start(token, snap.blocks[route.block].forward,
                                   std::span<const uint8_t>(upstream_query, upstream_len),
                                   client != nullptr && client->tcp);
  if (started != forward::Forwarder::Start::kStarted) {
    const bool overloaded = started == forward::Forwarder::Start::kOverloaded;
    auto node = pending_.find(token);
    if (node == pending_.end()) {
      return;
    }
    std::unique_ptr<Pending> gone = std::move(node->second);
    pending_.erase(node);
    coalesce_.erase(gone->ck);
    pending_count_.store(pending_.size(), std::memory_order_relaxed);
    const BlockRuntime& block = snap.blocks[route.block];
    for (const auto& w : gone->waiters) {
      size_t len = dns::buildErrorResponse(
          w.query(), overloaded ? dns::Rcode::kServFail : dns::Rcode::kRefused, scratch_);
      auto answer = std::span<const uint8_t>(scratch_.data(), len);
      countResponse(gone->zone_stats[index_], w.tcp, Plugin::kForward, answer);
      reportError(block, overloaded ? 2 : 5, key, [this, &block, overloaded] {
        return overloaded ? "upstream queries in flight on this worker exceeded maximum " +
                                std::to_string(options_.max_upstream_queries)
                          : "concurrent queries exceeded maximum " +
                                std::to_string(block.config->forward->max_concurrent);
      });
      if (!block.log_rules.empty()) {
        if (auto wq = dns::parseQuery(w.query())) {
          logQuery(block, w.tcp, w.conn_id, &w.peer, w.peer_len, w.query_size, *wq, key, answer,
                   w.start);
        }
      }
      deliver(w, answer);
    }
  }
}

void Worker::onForwardDone(uint64_t token, std::span<const uint8_t> answer) noexcept {
  auto node = pending_.find(token);
  if (node == pending_.end()) {
    return;
  }
  std::unique_ptr<Pending> p = std::move(node->second);
  pending_.erase(node);
  auto cit = coalesce_.find(p->ck);
  if (cit != coalesce_.end() && cit->second == token) {
    coalesce_.erase(cit);
  }
  pending_count_.store(pending_.size(), std::memory_order_relaxed);

  const BlockRuntime& block = p->snap->blocks[p->block];
  const MonoTime now = loop_->clock().now();
  std::optional<dns::ResponseInfo> info;
  if (!answer.empty()) {
    info = dns::inspectResponse(answer);
  }
  const bool ok = info.has_value();
  const bool failed =
      !ok || info->rcode == dns::Rcode::kServFail || info->rcode == dns::Rcode::kRefused;
  const bool cached =
      block.cache && block.cache_scope.covers(p->key.name.data(), p->key.name_length);
  if (ok && cached &&
      block.cache_scope.mayStore(p->key.name.data(), p->key.name_length, info->type)) {
    block.cache->insert(p->key, answer, *info, now);
  }
  forward::Failure failure;
  if (!ok) {
    failure = forwarder_->lastFailure();
  }
  // Each waiter's answer is built in scratch_: the forwarder never calls us inside start(), so
  // no handleQuery() is using it. Allocated once: a fresh zero-filled 64 KiB vector per upstream
  // answer cost more than the rest of the miss path (callgrind: ~65,000 instructions of memset).
  std::vector<uint8_t>& buf = scratch_;
  for (const auto& w : p->waiters) {
    auto q = dns::parseQuery(w.query());
    if (!q) {
      continue;
    }
    size_t len = 0;
    Plugin plugin = Plugin::kForward;
    if (cached && failed && block.cache->policy().serve_stale.enabled) {
      auto hit = block.cache->serveStale(p->key, *q, w.query(), buf, now);
      if (hit.outcome == cache::Outcome::kStale) {
        len = hit.length;
        plugin = Plugin::kCache;
        metrics::CacheStats* cs = p->snap->cache_stats[w.listener][p->block];
        if (cs != nullptr) {
          cs[index_].served_stale.inc();
        }
      }
    }
    if (len == 0 && ok && cached) {
      auto hit = block.cache->lookup(p->key, *q, w.query(), buf, now);
      if (hit.outcome == cache::Outcome::kFresh || hit.outcome == cache::Outcome::kFreshPrefetch) {
        len = hit.length;
      }
    }
    if (len == 0 && ok) {
      // Not from the cache (e.g. REFUSED): this waiter's own copy — its ID, question casing and
      // EDNS, never the upstream's OPT or options answering another waiter's query.
      len = dns::buildClientAnswer(answer, *info, *q, w.query(), buf);
    }
    if (len == 0) {
      len = dns::buildErrorResponse(w.query(), dns::Rcode::kServFail, buf);
      if (!ok) {
        reportError(block, 2, p->key, [&failure] { return failure.describe(); });
      }
    }
    if (!w.tcp) {
      size_t limit = std::min(q->udpLimit(), kMaxUdpAnswer);
      if (len > limit) {
        len = dns::truncateToFit(buf, len, limit);
      }
    }
    if (len == 0) {
      continue;
    }
    auto out = std::span<const uint8_t>(buf.data(), len);
    auto& zs = p->zone_stats[index_];
    countResponse(zs, w.tcp, plugin, out);
    zs.duration[w.type_index].observe(elapsedNs(loop_->clock(), w.start));
    if (!block.log_rules.empty()) {
      logQuery(block, w.tcp, w.conn_id, &w.peer, w.peer_len, w.query_size, *q, p->key, out,
               w.start);
    }
    deliver(w, out);
  }
}

template <typename Describe>
void Worker::reportError(const BlockRuntime& block, unsigned rcode, const cache::CacheKey& key,
                         Describe&& describe) noexcept {
  if (!block.config->errors) {
    return;
  }
  std::string text;
  if (!block.consolidate.empty()) {
    // CoreDNS: an error matching a consolidate pattern is counted, not logged.
    text = describe();
    uint32_t matched = 0;
    auto* memo = index_ < block.consolidate_memo.size() ? &block.consolidate_memo[index_] : nullptr;
    bool known = false;
    if (memo != nullptr) {
      if (auto it = memo->find(text); it != memo->end()) {
        matched = it->second;
        known = true;
      }
    }
    if (!known) {
      for (size_t i = 0; i < block.consolidate.size() && matched == 0; ++i) {
        matched = block.consolidate[i]->matches(text) ? static_cast<uint32_t>(i + 1) : 0;
      }
      if (memo != nullptr) {
        if (memo->size() >= 256) {
          memo->clear();
        }
        memo->emplace(text, matched);
      }
    }
    if (matched != 0) {
      const auto& rule = block.consolidate[matched - 1];
      for (auto& c : consolidating_) {
        if (c.rule == rule) {
          ++c.count;
          return;
        }
      }
      consolidating_.push_back({rule, 1, loop_->now() + rule->period});
      return;
    }
  }
  auto verdict = error_limiter_.admit(loop_->now());
  logSuppressed(verdict.suppressed);
  if (!verdict.log) {
    return;  // a flood costs this comparison and an increment, nothing more
  }
  if (block.consolidate.empty()) {
    text = describe();
  }
  NLD_LOG(kServer, err, "plugin/errors: {}",
          formatError(rcode, dns::nameToText(key.nameWire(), 0), key.qtype, text));
}

void Worker::flushConsolidated(MonoTime now, bool all) noexcept {
  for (size_t i = 0; i < consolidating_.size();) {
    auto& c = consolidating_[i];
    if (!all && now < c.due) {
      ++i;
      continue;
    }
    std::string line = "plugin/errors: " + c.rule->summary(c.count);
    switch (c.rule->level) {
      case ConsolidateRule::Level::kDebug:
        NLD_LOG(kServer, debug, "{}", line);
        break;
      case ConsolidateRule::Level::kInfo:
        NLD_LOG(kServer, info, "{}", line);
        break;
      case ConsolidateRule::Level::kWarning:
        NLD_LOG(kServer, warn, "{}", line);
        break;
      case ConsolidateRule::Level::kError:
        NLD_LOG(kServer, err, "{}", line);
        break;
    }
    consolidating_.erase(consolidating_.begin() + static_cast<long>(i));
  }
}

void Worker::logQuery(const BlockRuntime& block, bool tcp, uint64_t conn_id,
                      const sockaddr_storage* peer, socklen_t peer_len, size_t query_size,
                      const dns::Query& q, const cache::CacheKey& key,
                      std::span<const uint8_t> answer, MonoTime start) noexcept {
  // CoreDNS plugin/log: the first rule whose names match decides.
  const config::LogRule* rule = nullptr;
  for (const auto& r : block.log_rules) {
    for (const auto& z : r.zones) {
      if (dns::nameIsUnder(key.name.data(), key.name_length, z.data(), z.size())) {
        rule = r.rule;
        break;
      }
    }
    if (rule != nullptr) {
      break;
    }
  }
  if (rule == nullptr) {
    return;
  }
  if (rule->classes != config::LogRule::kAll) {
    auto info = dns::inspectResponse(answer);
    uint8_t cls = info ? logClassOf(info->type) : config::LogRule::kError;
    if ((rule->classes & cls) == 0) {
      return;
    }
  }
  QueryLogLine line;
  if (tcp) {
    auto it = clients_.find(conn_id);
    if (it != clients_.end()) {
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      if (::getpeername(it->second->fd(), reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
        line.client = SocketAddress::fromSockaddr(ss);
      }
    }
  } else if (peer != nullptr && peer_len > 0) {
    line.client = SocketAddress::fromSockaddr(*peer);
  }
  std::string name = dns::nameToText(key.nameWire(), 0);
  line.id = q.id;
  line.qtype = q.qtype;
  line.qclass = q.qclass;
  line.name = name;
  line.tcp = tcp;
  line.size = query_size;
  line.do_bit = q.doBit();
  line.bufsize = tcp ? 65535 : q.udpLimit();
  line.answer = answer;
  line.duration_ns = elapsedNs(loop_->clock(), start);
  line.combined = rule->combined;
  NLD_LOG(kServer, info, "{}", formatQueryLog(line));
}

void Worker::deliver(const Waiter& w, std::span<const uint8_t> answer) noexcept {
  if (w.tcp) {
    auto it = clients_.find(w.conn_id);
    if (it != clients_.end()) {
      it->second->send(answer);
    }
    return;
  }
  if (w.listener < udp_.size() && udp_[w.listener]) {
    iovec iov{const_cast<uint8_t*>(answer.data()), answer.size()};
    msghdr m{};
    m.msg_name = const_cast<sockaddr_storage*>(&w.peer);
    m.msg_namelen = w.peer_len;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    if (w.control_len > 0) {
      m.msg_control = const_cast<uint8_t*>(w.control);
      m.msg_controllen = w.control_len;
    }
    ::sendmsg(udp_[w.listener]->fd(), &m, MSG_DONTWAIT);
  }
  // Listener closed by stopAccepting(): the answer cannot leave from the right source; the
  // client retries against the successor.
}

bool Worker::evictOne() noexcept {
  if (client_fresh_.empty() && client_lru_.empty()) {
    return false;
  }
  tcp_stats_->close(false, metrics::TcpClose::kEvicted);
  closeClient(!client_fresh_.empty() ? client_fresh_.front() : client_lru_.front());
  return true;
}

void Worker::onAccept(TcpListener& l, int batch) noexcept {
  bool evicted_for_fd = false;
  for (int i = 0; i < batch; ++i) {
    int fd = ::accept4(l.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EMFILE && errno != ENFILE) {
        return;
      }
      // Out of descriptors: the level-triggered listener would wake us at once again (a
      // spinning worker). Once per wake-up the least useful connection makes room; if that
      // does not help, the listener is not watched until the next sweep.
      if (!evicted_for_fd && evictOne()) {
        evicted_for_fd = true;
        continue;
      }
      if (!l.paused()) {
        loop_->remove(l.fd());
        l.setPaused(true);
        tcp_listeners_paused_ = true;
      }
      return;
    }
    Fd conn(fd);
    if (options_.tcp_max_connections == 0) {
      continue;
    }
    // At the cap a connection makes room: refusing newcomers would let a client that holds
    // every slot (idle, or one byte a second) deny TCP to everyone.
    while (clients_.size() >= options_.tcp_max_connections && evictOne()) {
    }
    uint64_t id = next_client_id_++;
    client_fresh_.push_back(id);
    auto c = std::make_unique<TcpClient>(*this, id, l.index(), std::move(conn),
                                         std::prev(client_fresh_.end()));
    if (!loop_->add(c->fd(), EPOLLIN, c.get())) {
      client_fresh_.pop_back();
      continue;
    }
    clients_.emplace(id, std::move(c));
  }
}

void Worker::closeClient(uint64_t id) noexcept {
  auto it = clients_.find(id);
  if (it == clients_.end()) {
    return;
  }
  it->second->close();
  (it->second->hadQuery() ? client_lru_ : client_fresh_).erase(it->second->lru());
  // Its events later in this round are dropped; the caller (often the client itself) may go on.
  loop_->deferDelete(std::move(it->second));
  clients_.erase(it);
}

void Worker::tcpQueryQueued(uint64_t conn_id) noexcept {
  auto it = clients_.find(conn_id);
  if (it != clients_.end()) {
    it->second->queryQueued();
  }
}

void Worker::tcpQueryDone(uint64_t conn_id) noexcept {
  auto it = clients_.find(conn_id);
  if (it != clients_.end()) {
    it->second->queryDone();
  }
}

void Worker::shedTcpMemory() noexcept {
  while (tcp_budget_.over()) {
    uint64_t victim = 0;
    size_t most = 0;
    for (const auto& [id, c] : clients_) {
      if (c->held() > most) {
        most = c->held();
        victim = id;
      }
    }
    if (victim == 0) {
      break;  // what is left is held by upstream connections (bounded by their watermark)
    }
    tcp_stats_->close(false, metrics::TcpClose::kMemory);
    closeClient(victim);
  }
  tcp_stats_->buffered_bytes.set(tcp_budget_.used());
}

void Worker::sweep() noexcept {
  if (tcp_listeners_paused_) {
    tcp_listeners_paused_ = false;
    for (auto& l : tcp_) {
      if (l && l->paused()) {
        l->setPaused(false);
        loop_->add(l->fd(), EPOLLIN, l.get());
      }
    }
  }
  flushConsolidated(loop_->now(), false);
  logSuppressed(error_limiter_.flush(loop_->now()));
  const MonoTime now = loop_->now();
  std::vector<std::pair<uint64_t, metrics::TcpClose>> expired;
  for (const auto& [id, c] : clients_) {
    if (auto why = c->expired(now)) {
      expired.emplace_back(id, *why);
    }
  }
  for (const auto& [id, why] : expired) {
    tcp_stats_->close(false, why);
    closeClient(id);
  }
  tcp_stats_->buffered_bytes.set(tcp_budget_.used());
}

}  // namespace nld::resolver::server
