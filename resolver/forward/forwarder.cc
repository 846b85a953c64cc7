#include "resolver/forward/forwarder.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "resolver/dns/builder.h"
#include "resolver/dns/message.h"
#include "resolver/dns/name.h"
#include "resolver/dns/rr_walk.h"
#include "resolver/net/socket.h"

namespace nld::resolver::forward {

using net::MonoTime;

struct Forwarder::Exchange {
  uint64_t token = 0;
  std::shared_ptr<ForwardGroup> group;
  std::vector<uint8_t> query;
  bool use_tcp = false;
  bool probe = false;
  uint8_t order[16] = {};
  size_t count = 0;
  size_t next = 0;
  size_t current = 0;
  uint16_t id = 0;
  MonoTime overall_deadline;
  MonoTime attempt_deadline;
  MonoTime attempt_start;
  std::unique_ptr<UdpAttempt> udp;
  TcpUpstream* tcp = nullptr;
  Failure failure;  ///< of the latest failed attempt

  void failed(Failure::Kind kind, int sys_errno, bool via_tcp) noexcept {
    failure.kind = kind;
    failure.sys_errno = sys_errno;
    failure.tcp = via_tcp;
    failure.upstream = group->upstreams[current]->address;
  }
};

class Forwarder::UdpAttempt final : public net::IoHandler {
 public:
  UdpAttempt(Forwarder& f, uint64_t token, Fd fd)
      : f_(f), loop_(f.loop_), token_(token), fd_(std::move(fd)) {}
  // Only the loop: a deferred attempt may outlive the forwarder (destroyed with the loop).
  ~UdpAttempt() { loop_.remove(fd_.get()); }
  bool arm() noexcept { return loop_.add(fd_.get(), EPOLLIN, this); }
  void onIo(uint32_t) noexcept override { f_.onUdpReadable(token_); }
  int fd() const noexcept { return fd_.get(); }

 private:
  Forwarder& f_;
  net::EventLoop& loop_;
  uint64_t token_;
  Fd fd_;
};

// A pipelined upstream connection, on the same FramedConn (and so the same bounds) as client
// connections: a query is refused (the exchange fails over) while the queued output is above
// the high watermark or the worker's TCP buffers are at their bound after shedding client
// connections (TcpBudget::makeRoom()); expireIdle() closes a
// connection whose output has not moved for its `expire` time.
class Forwarder::TcpUpstream final : public net::IoHandler {
 public:
  TcpUpstream(Forwarder& f, std::shared_ptr<UpstreamState> up, std::chrono::seconds expire)
      : f_(f), loop_(f.loop_), up_(std::move(up)), expire_(expire) {}
  // Only the loop (and the TCP budget, which outlives the loop's deferred objects): a deferred
  // connection may outlive the forwarder.
  ~TcpUpstream() {
    if (conn_ && conn_->fd() >= 0) {
      loop_.remove(conn_->fd());
    }
  }

  bool open() noexcept {
    auto fd = f_.transport_.connectTcp(up_->address);
    if (!fd) {
      return false;
    }
    conn_.emplace(std::move(*fd), f_.tcp_budget_, f_.loop_.now());
    conn_->setWatermarks(f_.tcp_limits_.output_high, f_.tcp_limits_.output_low);
    last_used_ = f_.loop_.now();
    return f_.loop_.add(conn_->fd(), EPOLLIN | EPOLLOUT, this);
  }

  bool send(uint16_t id, uint64_t token, std::span<const uint8_t> query) noexcept {
    if (dead_) {
      return false;
    }
    if (conn_->readPaused()) {
      f_.pauseTcp(metrics::TcpPause::kOutput);  // the upstream does not read: fail over
      return false;
    }
    // Over the worker's bound: client connections are shed first (makeRoom()); an upstream
    // query is refused only if upstream connections alone are over it.
    if (f_.tcp_budget_ != nullptr && !f_.tcp_budget_->makeRoom()) {
      f_.pauseTcp(metrics::TcpPause::kMemory);
      return false;
    }
    if (!conn_->queue(query, f_.loop_.now())) {
      return false;
    }
    waiting_[id] = token;
    last_used_ = f_.loop_.now();
    if (connected_) {
      if (!conn_->flush(f_.loop_.now())) {
        waiting_.erase(id);
        fail();
        return false;
      }
      updateInterest();
    }
    return true;
  }
  bool idInUse(uint16_t id) const noexcept { return waiting_.count(id) != 0; }
  void forget(uint16_t id) noexcept { waiting_.erase(id); }
  bool idle() const noexcept { return waiting_.empty(); }
  bool dead() const noexcept { return dead_; }
  bool stalled(MonoTime now) noexcept {
    return !dead_ && conn_->stalledAt(now, std::chrono::duration_cast<std::chrono::milliseconds>(
                                               std::chrono::seconds(expire_)));
  }
  MonoTime lastUsed() const noexcept { return last_used_; }
  std::chrono::seconds expire() const noexcept { return expire_; }

  void onIo(uint32_t events) noexcept override {
    if (dead_) {
      return;
    }
    const MonoTime now = f_.loop_.now();
    if (!connected_ && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(conn_->fd(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        f_.connectFailed(up_.get());
        fail(Failure::Kind::kConnect, err);
        return;
      }
      connected_ = true;
      f_.connectSucceeded(up_.get());
      if (!conn_->flush(now)) {
        fail();
        return;
      }
      updateInterest();
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
      // A bounded amount per wake-up; answers are consumed as they complete, so at most one
      // partial message and one read are buffered.
      for (size_t got_bytes = 0; got_bytes < kReadPerWake; got_bytes += 4096) {
        auto got = conn_->read(now);
        if (got == net::FramedConn::Read::kAgain) {
          break;
        }
        if (got != net::FramedConn::Read::kData) {
          fail();
          return;
        }
        while (auto msg = conn_->next(now)) {
          if (msg->size() < 2) {
            continue;
          }
          uint16_t id = dns::readU16(msg->data());
          auto it = waiting_.find(id);
          if (it == waiting_.end()) {
            continue;  // late answer of an abandoned attempt, or garbage: ignore
          }
          uint64_t token = it->second;
          waiting_.erase(it);
          last_used_ = now;
          f_.onTcpAnswer(token, *msg);
          if (dead_) {
            return;
          }
        }
        if (conn_->broken()) {
          fail();
          return;
        }
      }
    }
    if (connected_ && (events & EPOLLOUT)) {
      if (!conn_->flush(now)) {
        fail();
        return;
      }
      updateInterest();
    }
  }

  /// Closes the connection and fails every query waiting on it.
  void fail(Failure::Kind kind = Failure::Kind::kClosed, int sys_errno = 0) noexcept {
    if (dead_) {
      return;
    }
    dead_ = true;
    f_.loop_.remove(conn_->fd());
    conn_->close();  // frees the buffers (and their share of the worker's bound) now
    auto waiting = std::move(waiting_);
    waiting_.clear();
    f_.retireTcp(this);
    for (auto& [id, token] : waiting) {
      auto it = f_.exchanges_.find(token);
      if (it != f_.exchanges_.end() && it->second->tcp == this) {
        it->second->tcp = nullptr;
        f_.attemptFailed(token, kind, sys_errno);
      }
    }
  }

 private:
  static constexpr size_t kReadPerWake = 64 << 10;

  void updateInterest() noexcept {
    uint32_t want = EPOLLIN | (conn_->pending() == 0 ? 0u : static_cast<uint32_t>(EPOLLOUT));
    if (want != interest_) {
      interest_ = want;
      f_.loop_.modify(conn_->fd(), want, this);
    }
  }

  Forwarder& f_;
  net::EventLoop& loop_;
  std::shared_ptr<UpstreamState> up_;
  std::chrono::seconds expire_;
  std::optional<net::FramedConn> conn_;  ///< set by open()
  bool connected_ = false;
  bool dead_ = false;
  uint32_t interest_ = EPOLLIN | EPOLLOUT;
  std::unordered_map<uint16_t, uint64_t> waiting_;
  MonoTime last_used_;
};

Forwarder::Forwarder(net::EventLoop& loop, DoneFn done, metrics::Registry& registry,
                     unsigned worker, bool health_prober, UpstreamTransport& transport)
    : loop_(loop),
      transport_(transport),
      done_(std::move(done)),
      registry_(registry),
      worker_(worker),
      health_prober_(health_prober) {
  // Completions queued inside start(): delivered after the round that queued them (period 0,
  // active only while some are queued, so an idle loop does not wake for it).
  loop_.addTick(
      std::chrono::milliseconds(0), [this] { deliverQueued(); },
      [this] { return !queued_.empty(); });
}

Forwarder::~Forwarder() {
  exchanges_.clear();
  tcp_.clear();
}

int64_t Forwarder::nowNs() const noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(loop_.now().time_since_epoch())
      .count();
}

std::string Failure::describe() const {
  const std::string proto = tcp ? "tcp " : "udp ";
  const std::string to = upstream.toString();
  auto sys = [this](const char* fallback) {
    // Go's syscall error texts are lower-case ("connection refused").
    std::string text = sys_errno != 0 ? errnoText(sys_errno) : fallback;
    if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') {
      text[0] = static_cast<char>(text[0] - 'A' + 'a');
    }
    return text;
  };
  switch (kind) {
    case Kind::kNone:
      return "no healthy upstreams";
    case Kind::kTimeout:
      return "read " + proto + to + ": i/o timeout";
    case Kind::kRead:
      return "read " + proto + to + ": read: " + sys("error");
    case Kind::kConnect:
      return "dial tcp " + to + ": connect: " + sys("failed (reconnect backoff)");
    case Kind::kSend:
      return "write " + proto + to + ": " + sys("failed");
    case Kind::kClosed:
      return "read " + proto + to + ": connection closed";
    case Kind::kMismatch:
      return "read " + proto + to + ": answer does not match the question";
    case Kind::kAborted:
      return "server shutting down";
  }
  return "unknown error";
}

uint16_t Forwarder::randomId() noexcept { return random_.next16(); }

Forwarder::Start Forwarder::start(uint64_t token, std::shared_ptr<ForwardGroup> group,
                                  std::span<const uint8_t> query, bool client_tcp) {
  const auto& cfg = group->config;
  if (max_in_flight_ > 0 && exchanges_.size() >= max_in_flight_) {
    registry_.inFlightRejects()[worker_].inc();
    return Start::kOverloaded;
  }
  if (cfg.max_concurrent > 0 &&
      group->in_flight.load(std::memory_order_relaxed) >= cfg.max_concurrent) {
    registry_.maxConcurrentRejects()[worker_].inc();
    return Start::kRejected;
  }
  group->in_flight.fetch_add(1, std::memory_order_relaxed);
  auto ex = std::make_unique<Exchange>();
  ex->token = token;
  ex->query.assign(query.begin(), query.end());
  ex->use_tcp = cfg.force_tcp || (client_tcp && !cfg.prefer_udp);
  bool down[16];
  size_t n = std::min<size_t>(group->upstreams.size(), 16);
  bool all_down = n > 0;
  for (size_t i = 0; i < n; ++i) {
    down[i] = group->upstreams[i]->down(cfg.max_fails);
    all_down = all_down && down[i];
  }
  if (all_down) {
    registry_.healthcheckBroken()[worker_].inc();  // CoreDNS: healthcheck completely broken
  }
  uint32_t rr = cfg.policy == config::Policy::kRoundRobin
                    ? group->round_robin.fetch_add(1, std::memory_order_relaxed)
                    : 0;
  ex->count =
      selectOrder(cfg.policy, std::span<const bool>(down, n), random_.next64(), rr, ex->order);
  ex->overall_deadline = loop_.now() + cfg.overall_timeout;
  ex->group = std::move(group);
  Exchange& ref = *ex;
  exchanges_.emplace(token, std::move(ex));
  // Every attempt may fail at once (no socket, send() refused, TCP backing off), and a failing
  // TCP send fails the other exchanges on that connection: complete() queues what finishes in
  // here instead of calling done() inside its caller's start().
  const bool outer = !in_start_;
  in_start_ = true;
  attempt(ref);
  in_start_ = !outer;
  return Start::kStarted;
}

void Forwarder::attempt(Exchange& ex) noexcept {
  const auto& cfg = ex.group->config;
  for (;;) {
    MonoTime now = loop_.now();
    if (ex.next >= ex.count || now >= ex.overall_deadline) {
      complete(ex.token, {});
      return;
    }
    ex.current = ex.order[ex.next++];
    const auto& up = ex.group->upstreams[ex.current];
    ex.attempt_start = now;
    ex.attempt_deadline = std::min(now + cfg.attempt_timeout, ex.overall_deadline);
    if (ex.use_tcp) {
      errno = 0;  // a reconnect backoff fails without a system call
      TcpUpstream* conn = tcpFor(up, cfg.expire);
      if (conn == nullptr) {
        ex.failed(Failure::Kind::kConnect, errno, true);
        up->onFailure();
        continue;
      }
      uint16_t id = randomId();
      for (int i = 0; i < 8 && conn->idInUse(id); ++i) {
        id = randomId();
      }
      ex.id = id;
      dns::writeU16(ex.query.data(), id);
      if (!conn->send(id, ex.token, ex.query)) {
        ex.failed(Failure::Kind::kSend, errno, true);
        up->onFailure();
        continue;
      }
      ex.tcp = conn;
      return;
    }
    ex.id = randomId();
    dns::writeU16(ex.query.data(), ex.id);
    if (up->stats != nullptr) {
      up->stats[worker_].conn_cache_misses[0].inc();  // a fresh socket per UDP attempt
    }
    auto fd = transport_.connectUdp(up->address);
    if (!fd || ::send(fd->get(), ex.query.data(), ex.query.size(), MSG_NOSIGNAL) < 0) {
      ex.failed(Failure::Kind::kSend, errno, false);
      up->onFailure();
      continue;
    }
    ex.udp = std::make_unique<UdpAttempt>(*this, ex.token, std::move(*fd));
    if (!ex.udp->arm()) {
      int err = errno;  // before the handler's destructor makes system calls
      ex.udp.reset();
      ex.failed(Failure::Kind::kSend, err, false);
      up->onFailure();
      continue;
    }
    return;
  }
}

void Forwarder::releaseTransport(Exchange& ex) noexcept {
  if (ex.udp) {
    loop_.deferDelete(std::move(ex.udp));  // may be the handler being dispatched
  }
  if (ex.tcp != nullptr) {
    if (!ex.tcp->dead()) {
      ex.tcp->forget(ex.id);
    }
    ex.tcp = nullptr;
  }
}

void Forwarder::attemptFailed(uint64_t token, Failure::Kind kind, int sys_errno) noexcept {
  auto it = exchanges_.find(token);
  if (it == exchanges_.end()) {
    return;
  }
  Exchange& ex = *it->second;
  ex.failed(kind, sys_errno, ex.use_tcp);
  releaseTransport(ex);
  const auto& up = ex.group->upstreams[ex.current];
  up->onFailure();
  if (ex.probe) {
    if (up->stats != nullptr) {
      up->stats[worker_].healthcheck_failures.inc();
    }
    complete(token, {});
    return;
  }
  attempt(ex);
}

void Forwarder::onUdpReadable(uint64_t token) noexcept {
  auto it = exchanges_.find(token);
  if (it == exchanges_.end() || !it->second->udp) {
    return;
  }
  Exchange& ex = *it->second;
  uint8_t buf[65535];
  for (;;) {
    ssize_t n = ::recv(ex.udp->fd(), buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return;
      }
      // ECONNREFUSED (ICMP port unreachable) and friends: this upstream failed.
      attemptFailed(token, Failure::Kind::kRead, errno);
      return;
    }
    if (accept(ex, std::span<const uint8_t>(buf, static_cast<size_t>(n)), false)) {
      return;
    }
  }
}

void Forwarder::onTcpAnswer(uint64_t token, std::span<const uint8_t> answer) noexcept {
  auto it = exchanges_.find(token);
  if (it == exchanges_.end()) {
    return;
  }
  Exchange& ex = *it->second;
  ex.tcp = nullptr;  // the connection already forgot this ID
  if (!accept(ex, answer, true)) {
    // A mismatched answer over TCP cannot be followed by the right one: fail the attempt.
    attemptFailed(token, Failure::Kind::kMismatch);
  }
}

bool Forwarder::accept(Exchange& ex, std::span<const uint8_t> answer, bool via_tcp) noexcept {
  if (answer.size() < dns::kHeaderSize || dns::readU16(answer.data()) != ex.id) {
    return false;
  }
  auto info = dns::inspectResponse(answer);
  if (!info || !dns::sameQuestion(ex.query, answer)) {
    return false;
  }
  const auto& up = ex.group->upstreams[ex.current];
  if (info->tc && !via_tcp) {
    // RFC 7766 §5: retry the truncated answer over TCP, same upstream.
    releaseTransport(ex);
    ex.use_tcp = true;
    ex.next = ex.next > 0 ? ex.next - 1 : 0;
    attempt(ex);
    return true;
  }
  up->onAnswer(nowNs());
  if (up->stats != nullptr) {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(loop_.now() - ex.attempt_start);
    up->stats[worker_].duration[metrics::rcodeIndex(static_cast<unsigned>(info->rcode))].observe(
        static_cast<uint64_t>(std::max<int64_t>(ns.count(), 0)));
  }
  releaseTransport(ex);
  complete(ex.token, answer);
  return true;
}

void Forwarder::complete(uint64_t token, std::span<const uint8_t> answer) noexcept {
  auto it = exchanges_.find(token);
  if (it == exchanges_.end()) {
    return;
  }
  std::unique_ptr<Exchange> ex = std::move(it->second);
  exchanges_.erase(it);
  releaseTransport(*ex);
  ex->group->in_flight.fetch_sub(1, std::memory_order_relaxed);
  if (ex->probe) {
    return;
  }
  if (in_start_ && answer.empty()) {  // start() reads nothing: only failures end inside it
    queued_.push_back(Queued{token, ex->failure});
    return;
  }
  last_failure_ = answer.empty() ? ex->failure : Failure{};
  done_(token, answer);
}

void Forwarder::deliverQueued() noexcept {
  // done() may start exchanges that fail at once and queue again: those wait for the next round.
  delivering_.swap(queued_);
  for (const Queued& q : delivering_) {
    last_failure_ = q.failure;
    done_(q.token, {});
  }
  delivering_.clear();
}

Forwarder::TcpUpstream* Forwarder::tcpFor(const std::shared_ptr<UpstreamState>& up,
                                          std::chrono::seconds expire) noexcept {
  auto it = tcp_.find(up.get());
  if (it != tcp_.end() && !it->second->dead()) {
    if (up->stats != nullptr) {
      up->stats[worker_].conn_cache_hits[1].inc();
    }
    return it->second.get();
  }
  auto& bo = backoff_[up.get()];
  if (loop_.now() < bo.retry_after) {
    return nullptr;  // reconnect backoff: fail over to the next upstream now
  }
  if (up->stats != nullptr) {
    up->stats[worker_].conn_cache_misses[1].inc();  // dialing a new connection
  }
  auto conn = std::make_unique<TcpUpstream>(*this, up, expire);
  if (!conn->open()) {
    connectFailed(up.get());
    return nullptr;
  }
  TcpUpstream* raw = conn.get();
  tcp_[up.get()] = std::move(conn);
  return raw;
}

void Forwarder::connectFailed(const UpstreamState* up) noexcept {
  auto& bo = backoff_[up];
  bo.delay = bo.delay.count() == 0 ? std::chrono::milliseconds(50)
                                   : std::min(bo.delay * 2, std::chrono::milliseconds(2000));
  bo.retry_after = loop_.now() + bo.delay;
}

void Forwarder::connectSucceeded(const UpstreamState* up) noexcept { backoff_.erase(up); }

void Forwarder::retireTcp(TcpUpstream* conn) noexcept {
  for (auto it = tcp_.begin(); it != tcp_.end(); ++it) {
    if (it->second.get() == conn) {
      loop_.deferDelete(std::move(it->second));  // fail() goes on with `conn`
      tcp_.erase(it);
      return;
    }
  }
}

void Forwarder::setTcpBounds(const net::TcpLimits& limits, net::TcpBudget* budget,
                             metrics::TcpStats* stats) noexcept {
  tcp_limits_ = limits;
  tcp_budget_ = budget;
  tcp_stats_ = stats;
}

void Forwarder::pauseTcp(metrics::TcpPause why) noexcept {
  if (tcp_stats_ != nullptr) {
    tcp_stats_->pause(true, why);
  }
}

void Forwarder::setGroups(std::vector<std::shared_ptr<ForwardGroup>> groups) {
  groups_ = std::move(groups);
}

void Forwarder::tick() noexcept {
  MonoTime now = loop_.now();
  std::vector<uint64_t> expired;
  for (const auto& [token, ex] : exchanges_) {
    if (now >= ex->attempt_deadline) {
      expired.push_back(token);
    }
  }
  for (uint64_t token : expired) {
    attemptFailed(token, Failure::Kind::kTimeout);
  }
  expireIdle();
  if (health_prober_) {
    probeDownUpstreams();
  }
}

void Forwarder::expireIdle() noexcept {
  // Idle persistent connections: CoreDNS `expire` (default 10 s).
  MonoTime now = loop_.now();
  std::vector<std::pair<TcpUpstream*, metrics::TcpClose>> idle;
  for (const auto& [up, conn] : tcp_) {
    (void)up;
    if (conn->stalled(now)) {
      // The upstream does not read what we send: its queries would only time out.
      idle.emplace_back(conn.get(), metrics::TcpClose::kWriteTimeout);
    } else if (conn->idle() && now - conn->lastUsed() > conn->expire()) {
      idle.emplace_back(conn.get(), metrics::TcpClose::kIdle);
    }
  }
  for (auto [conn, why] : idle) {
    if (tcp_stats_ != nullptr) {
      tcp_stats_->close(true, why);
    }
    conn->fail();
  }
  if (tcp_stats_ != nullptr && tcp_budget_ != nullptr) {
    tcp_stats_->buffered_bytes.set(tcp_budget_->used());
  }
}

bool Forwarder::needsTick() const noexcept {
  if (!exchanges_.empty()) {
    return true;
  }
  if (health_prober_) {
    for (const auto& group : groups_) {
      for (const auto& up : group->upstreams) {
        if (up->down(group->config.max_fails)) {
          return true;
        }
      }
    }
  }
  return false;
}

bool Forwarder::probesConfigured() const noexcept {
  if (!health_prober_) {
    return false;
  }
  for (const auto& group : groups_) {
    if (group->config.max_fails > 0) {
      return true;
    }
  }
  return false;
}

void Forwarder::probeDownUpstreams() noexcept {
  MonoTime now = loop_.now();
  for (const auto& group : groups_) {
    const auto& cfg = group->config;
    if (cfg.max_fails == 0) {
      continue;
    }
    for (size_t i = 0; i < group->upstreams.size() && i < 16; ++i) {
      const auto& up = group->upstreams[i];
      if (!up->down(cfg.max_fails)) {
        continue;
      }
      auto& next = next_probe_[up.get()];
      if (now < next) {
        continue;
      }
      next = now + cfg.health_check;
      // `. IN NS` (or health_check_domain), RD unless no_rec.
      uint8_t q[dns::kHeaderSize + dns::kMaxNameLength + 4];
      const size_t len =
          dns::buildQuery(0, cfg.health_check_recursion ? dns::flag::kRd : 0,
                          cfg.health_check_domain, dns::qtype::kNs, dns::qclass::kIn, q);
      if (len == 0) {
        continue;
      }
      auto ex = std::make_unique<Exchange>();
      ex->token = next_probe_token_++;
      ex->probe = true;
      ex->query.assign(q, q + len);
      ex->use_tcp = cfg.force_tcp;
      ex->order[0] = static_cast<uint8_t>(i);
      ex->count = 1;
      ex->overall_deadline = now + cfg.attempt_timeout;
      ex->group = group;
      group->in_flight.fetch_add(1, std::memory_order_relaxed);
      Exchange& ref = *ex;
      exchanges_.emplace(ex->token, std::move(ex));
      attempt(ref);
    }
  }
}

void Forwarder::abortAll() noexcept {
  deliverQueued();  // failed before the abort: reported with their own reason
  std::vector<uint64_t> tokens;
  for (const auto& [token, ex] : exchanges_) {
    (void)ex;
    tokens.push_back(token);
  }
  for (uint64_t token : tokens) {
    if (auto it = exchanges_.find(token); it != exchanges_.end()) {
      it->second->failure.kind = Failure::Kind::kAborted;
    }
    complete(token, {});
  }
  std::vector<TcpUpstream*> conns;
  for (const auto& [up, conn] : tcp_) {
    (void)up;
    conns.push_back(conn.get());
  }
  for (TcpUpstream* conn : conns) {
    conn->fail(Failure::Kind::kAborted);  // out of epoll, closed, retired (deferDelete())
  }
  for (auto& [up, conn] : tcp_) {  // none left, unless one was dead but not yet retired
    (void)up;
    loop_.deferDelete(std::move(conn));
  }
  tcp_.clear();
}

}  // namespace nld::resolver::forward
