#include "tests/resolver/forward/scripted_transport.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <thread>
#include <utility>

#include "resolver/dns/name.h"
#include "resolver/net/socket.h"

namespace nld::test {
namespace {

/// A loopback address with nothing bound to it (bound to port 0, then closed).
SocketAddress closedLoopbackPort(bool tcp) {
  SocketAddress a;
  a.ip = *IpAddress::parse("127.0.0.1");
  Fd s(::socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0));
  sockaddr_storage ss{};
  socklen_t len = a.toSockaddr(ss);
  if (s && ::bind(s.get(), reinterpret_cast<sockaddr*>(&ss), len) == 0) {
    if (auto local = resolver::net::localAddress(s.get())) {
      a.port = local->port;
    }
  }
  return a;  // closed when `s` goes out of scope
}

void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

}  // namespace

ScriptedTransport::~ScriptedTransport() = default;

std::optional<Fd> ScriptedTransport::connectUdp(const SocketAddress& upstream) noexcept {
  return connect(upstream, false);
}

std::optional<Fd> ScriptedTransport::connectTcp(const SocketAddress& upstream) noexcept {
  return connect(upstream, true);
}

std::optional<Fd> ScriptedTransport::connect(const SocketAddress& upstream, bool tcp) noexcept {
  std::lock_guard lock(mu_);
  ++connects_[{upstream, tcp}];
  Refuse how = Refuse::kNo;
  if (auto it = refuse_.find({upstream, tcp}); it != refuse_.end()) {
    how = it->second;
  }
  if (how == Refuse::kConnect) {
    errno = ECONNREFUSED;
    return std::nullopt;
  }
  if (how == Refuse::kIcmp) {
    const SocketAddress closed = closedLoopbackPort(tcp);
    auto fd = tcp ? resolver::net::connectTcp(closed) : resolver::net::connectUdp(closed);
    if (fd) {
      conns_.push_back(Conn{upstream, tcp, Fd(), {}, false});
    }
    return fd;
  }
  int sv[2];
  const int type = (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC;
  if (::socketpair(AF_UNIX, type, 0, sv) != 0) {
    return std::nullopt;
  }
  conns_.push_back(Conn{upstream, tcp, Fd(sv[1]), {}, false});
  return Fd(sv[0]);
}

void ScriptedTransport::refuse(const SocketAddress& upstream, bool tcp, Refuse how) {
  std::lock_guard lock(mu_);
  refuse_[{upstream, tcp}] = how;
}

void ScriptedTransport::drainLocked(std::vector<Sent>& out) {
  for (size_t i = 0; i < conns_.size(); ++i) {
    Conn& c = conns_[i];
    if (!c.peer || c.eof) {
      continue;
    }
    uint8_t buf[65536];
    for (;;) {
      ssize_t n = ::recv(c.peer.get(), buf, sizeof buf, 0);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          c.eof = true;
        }
        break;
      }
      if (!c.tcp) {
        out.push_back(Sent{i, c.upstream, false, Bytes(buf, buf + n)});
        continue;
      }
      if (n == 0) {
        c.eof = true;
        break;
      }
      c.pending.insert(c.pending.end(), buf, buf + n);
      while (c.pending.size() >= 2) {
        size_t len = (size_t{c.pending[0]} << 8) | c.pending[1];
        if (c.pending.size() < 2 + len) {
          break;
        }
        out.push_back(Sent{i, c.upstream, true,
                           Bytes(c.pending.begin() + 2, c.pending.begin() + 2 + long(len))});
        c.pending.erase(c.pending.begin(), c.pending.begin() + 2 + long(len));
      }
    }
  }
}

std::vector<ScriptedTransport::Sent> ScriptedTransport::take() {
  std::lock_guard lock(mu_);
  drainLocked(ready_);
  return std::exchange(ready_, {});
}

std::optional<ScriptedTransport::Sent> ScriptedTransport::next(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      drainLocked(ready_);
      if (!ready_.empty()) {
        Sent s = std::move(ready_.front());
        ready_.erase(ready_.begin());
        return s;
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

bool ScriptedTransport::reply(size_t conn, std::span<const uint8_t> message, bool raw) {
  std::lock_guard lock(mu_);
  if (conn >= conns_.size() || !conns_[conn].peer) {
    return false;
  }
  Conn& c = conns_[conn];
  Bytes out;
  if (c.tcp && !raw) {
    put16(out, static_cast<uint16_t>(message.size()));
  }
  out.insert(out.end(), message.begin(), message.end());
  return ::send(c.peer.get(), out.data(), out.size(), MSG_NOSIGNAL) ==
         static_cast<ssize_t>(out.size());
}

void ScriptedTransport::reset(size_t conn) {
  std::lock_guard lock(mu_);
  if (conn < conns_.size()) {
    conns_[conn].peer.reset();
  }
}

size_t ScriptedTransport::connects(const SocketAddress& upstream, bool tcp) const {
  std::lock_guard lock(mu_);
  auto it = connects_.find({upstream, tcp});
  return it == connects_.end() ? 0 : it->second;
}

bool ScriptedTransport::closedByForwarder(size_t conn) {
  std::lock_guard lock(mu_);
  drainLocked(ready_);
  if (conn >= conns_.size()) {
    return false;
  }
  Conn& c = conns_[conn];
  if (!c.tcp && c.peer && !c.eof) {
    // A datagram socketpair shows no EOF: an empty datagram is refused once the other end is
    // closed (and ignored by the forwarder, too short to be an answer, while it is open).
    if (::send(c.peer.get(), "", 0, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno == ECONNREFUSED) {
      c.eof = true;
    }
  }
  return c.eof;
}

size_t ScriptedTransport::connections() const {
  std::lock_guard lock(mu_);
  return conns_.size();
}

std::vector<uint8_t> replyTo(std::span<const uint8_t> query, unsigned rcode,
                             const std::vector<std::vector<uint8_t>>& answers,
                             uint16_t extra_flags) {
  std::vector<uint8_t> r;
  if (query.size() < 12) {
    return r;
  }
  size_t pos = 12;
  while (pos < query.size() && query[pos] != 0) {
    pos += 1 + query[pos];
  }
  pos = std::min(pos + 5, query.size());  // root label, QTYPE, QCLASS
  r.assign(query.begin(), query.begin() + long(pos));
  const uint16_t flags =
      static_cast<uint16_t>(0x8000 | 0x0080 | (query[2] & 0x01) << 8 | extra_flags | (rcode & 0xf));
  r[2] = static_cast<uint8_t>(flags >> 8);
  r[3] = static_cast<uint8_t>(flags);
  r[6] = static_cast<uint8_t>(answers.size() >> 8);
  r[7] = static_cast<uint8_t>(answers.size());
  for (size_t i = 8; i < 12; ++i) {
    r[i] = 0;
  }
  for (const auto& rr : answers) {
    r.insert(r.end(), rr.begin(), rr.end());
  }
  return r;
}

std::vector<uint8_t> rrWire(const std::string& name, uint16_t type, uint32_t ttl,
                            std::span<const uint8_t> rdata) {
  uint8_t wire[256];
  size_t n = resolver::dns::nameFromText(name, wire);
  std::vector<uint8_t> b(wire, wire + n);
  put16(b, type);
  put16(b, 1);
  put16(b, static_cast<uint16_t>(ttl >> 16));
  put16(b, static_cast<uint16_t>(ttl));
  put16(b, static_cast<uint16_t>(rdata.size()));
  b.insert(b.end(), rdata.begin(), rdata.end());
  return b;
}

}  // namespace nld::test
