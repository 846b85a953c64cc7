// Forwarder: one per worker. Sends queries to the upstreams of a ForwardGroup and reports one
// completion per start(): the validated answer, or failure (all attempts failed or the overall
// deadline passed).
//
// Completion discipline: done() is never called inside start() — not for its own exchange nor
// for another (a TCP send failing inside start() fails every exchange on that connection).
// What fails there is queued and delivered by a loop tick after the round, so the caller never
// sees done() re-enter it (the worker answers into the buffer its handleQuery() is using).
// Elsewhere (event handlers, tick(), abortAll()) done() is called directly. Sockets and TCP
// connections go through the loop's deferDelete(), as any handler.
//
// Transports:
//  - UDP: a fresh connected socket per attempt. The kernel picks a random ephemeral source port
//    per query (connect() on an unbound socket: Linux draws it at random from
//    ip_local_port_range) and drops datagrams from any other source; we add an ID from
//    getrandom(2) (base/random.h, never a seeded PRNG) and check ID and question (anti-spoofing,
//    users-and-perf #37: no conntrack entry is ever reused). Misses are rare on a node cache, so
//    the extra socket()/close() per miss is cheap against that safety.
//  - TCP: one persistent connection per upstream per worker, pipelined (many queries in flight,
//    answers matched by ID in any order), closed after `expire` idle, reconnected with
//    exponential backoff (50 ms .. 2 s) after a connect failure.
// Per attempt the smaller of attempt_timeout and the overall deadline applies; a failed attempt
// counts against the upstream's health and the next upstream in policy order is tried; a TC
// answer over UDP is retried over TCP on the same upstream.
//
// Threading: the worker's loop thread only. noexcept on the per-query path; allocation happens
// per exchange (miss path), never on a cache hit.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/fd.h"
#include "base/random.h"
#include "resolver/forward/transport.h"
#include "resolver/forward/upstream.h"
#include "resolver/metrics/metrics.h"
#include "resolver/net/event_loop.h"
#include "resolver/net/framed_conn.h"

namespace nld::resolver::forward {

/// Completion: `answer` is empty on failure. The span is valid only during the call.
using DoneFn = std::function<void(uint64_t token, std::span<const uint8_t> answer)>;

/// Why the last attempt of a failed exchange failed (for the `errors` plugin's log line).
struct Failure {
  enum class Kind : uint8_t {
    kNone,      ///< no attempt was made (no upstream left, overall deadline passed)
    kTimeout,   ///< no answer within the attempt timeout
    kRead,      ///< the socket reported an error (sys_errno: ECONNREFUSED for an ICMP refusal)
    kConnect,   ///< TCP connect failed or is backing off
    kSend,      ///< socket()/send() failed
    kClosed,    ///< the TCP connection was closed or broke
    kMismatch,  ///< a TCP answer did not match the question
    kAborted,   ///< abortAll(): the server is stopping
  };
  Kind kind = Kind::kNone;
  int sys_errno = 0;
  bool tcp = false;
  SocketAddress upstream;

  /// Go-like text, as CoreDNS's forward error reads: "read udp 10.96.0.10:53: i/o timeout",
  /// "dial tcp 10.96.0.10:53: connect: connection refused", "no healthy upstreams".
  std::string describe() const;
};

class Forwarder {
 public:
  /// Time is the loop's clock (loop.now()); sockets come from `transport`. Registers a tick
  /// with `loop`: the forwarder must outlive the loop's last runOnce().
  Forwarder(net::EventLoop& loop, DoneFn done, metrics::Registry& registry, unsigned worker,
            bool health_prober, UpstreamTransport& transport = systemTransport());
  ~Forwarder();
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  enum class Start : uint8_t { kStarted, kRejected, kOverloaded };
  /// Starts an exchange for `query` (copied; its ID is replaced per attempt). `client_tcp` picks
  /// the protocol when neither force_tcp nor prefer_udp is set. kRejected when max_concurrent is
  /// reached (the caller answers REFUSED, as CoreDNS); kOverloaded when this forwarder already
  /// has setMaxInFlight() exchanges in flight (the caller answers SERVFAIL). done() is then never
  /// called for this token.
  Start start(uint64_t token, std::shared_ptr<ForwardGroup> group, std::span<const uint8_t> query,
              bool client_tcp);

  /// Deadlines, idle connection expiry, health probes. Called by the worker's tick.
  void tick() noexcept;
  /// True while tick() has something to do soon: exchanges in flight, retired connections, or
  /// (on the health prober) an upstream marked down. An idle worker then does not tick.
  bool needsTick() const noexcept;
  /// Closes persistent connections idle for longer than their `expire` (also done by tick()).
  /// Needs calling about once a second while hasConnections(): open connections alone do not
  /// make needsTick() true, so a worker serving only cache hits is not woken 100 times a second.
  void expireIdle() noexcept;
  bool hasConnections() const noexcept { return !tcp_.empty(); }
  /// True when some group marks upstreams down (max_fails > 0) and this forwarder probes them.
  bool probesConfigured() const noexcept;
  /// Bounds of upstream TCP connections (output watermarks, stall = `expire` without output
  /// progress), the worker's TCP byte budget they count in (may be null) and its counters
  /// (may be null). Before the first start().
  void setTcpBounds(const net::TcpLimits& limits, net::TcpBudget* budget,
                    metrics::TcpStats* stats) noexcept;
  /// Registers a group for health probing (worker 0 only probes). Replaces the previous list.
  void setGroups(std::vector<std::shared_ptr<ForwardGroup>> groups);

  /// Inside done() with an empty answer: why the exchange failed.
  const Failure& lastFailure() const noexcept { return last_failure_; }

  /// Bound on exchanges in flight (each holds a UDP socket or a TCP slot), so that a silent
  /// upstream cannot use up the process's file descriptors; 0 = unbounded. Health probes are
  /// not refused.
  void setMaxInFlight(size_t limit) noexcept { max_in_flight_ = limit; }
  /// Fails every exchange now (shutdown).
  void abortAll() noexcept;

 private:
  struct Exchange;
  class UdpAttempt;
  class TcpUpstream;
  friend class UdpAttempt;
  friend class TcpUpstream;

  void attempt(Exchange& ex) noexcept;
  void attemptFailed(uint64_t token, Failure::Kind kind, int sys_errno = 0) noexcept;
  void onUdpReadable(uint64_t token) noexcept;
  void onTcpAnswer(uint64_t token, std::span<const uint8_t> answer) noexcept;
  /// Validates and completes; returns false if the answer must be ignored (spoof/mismatch).
  bool accept(Exchange& ex, std::span<const uint8_t> answer, bool via_tcp) noexcept;
  void complete(uint64_t token, std::span<const uint8_t> answer) noexcept;
  void deliverQueued() noexcept;
  TcpUpstream* tcpFor(const std::shared_ptr<UpstreamState>& up,
                      std::chrono::seconds expire) noexcept;
  void releaseTransport(Exchange& ex) noexcept;
  void connectFailed(const UpstreamState* up) noexcept;
  void connectSucceeded(const UpstreamState* up) noexcept;
  void retireTcp(TcpUpstream* conn) noexcept;
  void probeDownUpstreams() noexcept;
  void pauseTcp(metrics::TcpPause why) noexcept;
  int64_t nowNs() const noexcept;
  uint16_t randomId() noexcept;

  net::EventLoop& loop_;
  UpstreamTransport& transport_;
  DoneFn done_;
  metrics::Registry& registry_;
  unsigned worker_;
  bool health_prober_;
  size_t max_in_flight_ = 0;
  RandomPool random_;  ///< query IDs and policy seeds: getrandom(2), buffered per worker
  std::unordered_map<uint64_t, std::unique_ptr<Exchange>> exchanges_;
  std::unordered_map<const UpstreamState*, std::unique_ptr<TcpUpstream>> tcp_;
  /// Failures inside start(), for deliverQueued() (allocation-free once grown).
  struct Queued {
    uint64_t token;
    Failure failure;
  };
  std::vector<Queued> queued_;
  std::vector<Queued> delivering_;
  bool in_start_ = false;
  struct Backoff {
    std::chrono::milliseconds delay{0};
    net::MonoTime retry_after;
  };
  std::unordered_map<const UpstreamState*, Backoff> backoff_;
  std::vector<std::shared_ptr<ForwardGroup>> groups_;
  std::unordered_map<const UpstreamState*, net::MonoTime> next_probe_;
  uint64_t next_probe_token_ = uint64_t{1} << 63;
  Failure last_failure_;
  net::TcpLimits tcp_limits_;
  net::TcpBudget* tcp_budget_ = nullptr;
  metrics::TcpStats* tcp_stats_ = nullptr;
};

}  // namespace nld::resolver::forward
