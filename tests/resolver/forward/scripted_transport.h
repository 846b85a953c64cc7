// ScriptedTransport: a forward::UpstreamTransport whose upstreams are the test. Each connect
// hands the forwarder one end of a socketpair (SOCK_DGRAM for a UDP attempt, SOCK_STREAM for a
// TCP connection, already connected) and keeps the other end, so the test reads the queries
// the forwarder sent and answers them (right or wrong ID, TC, garbage), later or never, or
// closes the peer — while the forwarder's own epoll, framing and bounds code runs.
//
// Refusals: refuse(upstream, tcp, kConnect) makes connects fail at once (nullopt, ECONNREFUSED);
// kIcmp makes them fail the way a real upstream does — a UDP attempt gets a loopback socket
// connected to a closed port (its send() draws an ICMP port unreachable, the read then fails
// with ECONNREFUSED), a TCP connect goes to a closed loopback port (SO_ERROR ECONNREFUSED).
//
// Threading: every method may be called from any thread (the forwarder's loop thread connects,
// the test thread reads and answers); one mutex.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/fd.h"
#include "base/ip.h"
#include "resolver/forward/transport.h"

namespace nld::test {

class ScriptedTransport final : public resolver::forward::UpstreamTransport {
 public:
  using Bytes = std::vector<uint8_t>;
  /// One query the forwarder sent, on `conn`: the index of the socket handed out, from 0
  /// (connects refused with kConnect get no socket and no index).
  struct Sent {
    size_t conn = 0;
    SocketAddress upstream;
    bool tcp = false;
    Bytes wire;
  };
  enum class Refuse : uint8_t { kNo, kConnect, kIcmp };

  ~ScriptedTransport();

  std::optional<Fd> connectUdp(const SocketAddress& upstream) noexcept override;
  std::optional<Fd> connectTcp(const SocketAddress& upstream) noexcept override;

  /// How later connects to `upstream` over UDP or TCP fail (kNo: they succeed again).
  void refuse(const SocketAddress& upstream, bool tcp, Refuse how);

  /// Every query sent since the last call, in the order read (no waiting).
  std::vector<Sent> take();
  /// The next query, waiting up to `timeout` (polling, 1 ms steps).
  std::optional<Sent> next(std::chrono::milliseconds timeout);
  /// Answers on `conn`: a datagram over UDP; over TCP with the 2-byte length prefix unless
  /// `raw`. False if the connection is gone.
  bool reply(size_t conn, std::span<const uint8_t> message, bool raw = false);
  /// Closes our end of `conn` (a TCP reset / EOF for the forwarder).
  void reset(size_t conn);
  /// Connects made so far (successful or refused), per transport, to `upstream`.
  size_t connects(const SocketAddress& upstream, bool tcp) const;
  /// Whether the forwarder closed its end of `conn` (seen by take()/next()).
  bool closedByForwarder(size_t conn);
  size_t connections() const;

 private:
  struct Conn {
    SocketAddress upstream;
    bool tcp = false;
    Fd peer;           ///< invalid after reset(), and for kIcmp sockets (no scripted peer)
    Bytes pending;     ///< TCP: bytes of an incomplete message
    bool eof = false;  ///< the forwarder closed its end
  };
  std::optional<Fd> connect(const SocketAddress& upstream, bool tcp) noexcept;
  void drainLocked(std::vector<Sent>& out);

  mutable std::mutex mu_;
  std::vector<Conn> conns_;
  std::vector<Sent> ready_;  ///< read from the peers, not yet handed out
  std::map<std::pair<SocketAddress, bool>, Refuse> refuse_;
  std::map<std::pair<SocketAddress, bool>, size_t> connects_;
};

/// A reply to `query` (its ID and question, QR and RA set, RD copied, `rcode`) followed by
/// `records` (whole RRs in wire form) in the answer section. Anything after the question (an
/// OPT) is not copied.
std::vector<uint8_t> replyTo(std::span<const uint8_t> query, unsigned rcode = 0,
                             const std::vector<std::vector<uint8_t>>& answers = {},
                             uint16_t extra_flags = 0);
/// An RR in wire form: uncompressed `name`, class IN.
std::vector<uint8_t> rrWire(const std::string& name, uint16_t type, uint32_t ttl,
                            std::span<const uint8_t> rdata);

}  // namespace nld::test
