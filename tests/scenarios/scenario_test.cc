// The scenario runner: one gtest per tests/scenarios/*.scn file (format: README.md beside them).
// The real Server (one worker, its snapshot built from the scenario's Corefile) serves on
// loopback port 0, on a ManualClock, with a ScriptedTransport as its upstreams; the runner is
// the clients and the upstreams. After each step it pumps the server until idle: health-probe
// queries on a barrier socket (answered by the worker in order with the queries before them)
// until a round brings no new upstream query and no new answer. No wall-clock sleeps decide
// anything; waits are bounded polls.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "resolver/config/config.h"
#include "resolver/dns/builder.h"
#include "resolver/dns/message.h"
#include "resolver/dns/name.h"
#include "resolver/dns/types.h"
#include "resolver/net/clock.h"
#include "resolver/net/socket.h"
#include "resolver/resolver.h"
#include "tests/resolver/forward/scripted_transport.h"
#include "tests/support/captured_log.h"

#ifndef NLD_SCENARIO_DIR
#error NLD_SCENARIO_DIR must name tests/scenarios
#endif

namespace nld::test {
namespace {

using namespace std::chrono_literals;
namespace dns = resolver::dns;
using Sent = ScriptedTransport::Sent;
using Bytes = std::vector<uint8_t>;

constexpr auto kWait = 5000ms;  // bound of every poll for something that must happen

// ---- text <-> wire -------------------------------------------------------------------------

const std::map<std::string, uint16_t>& typeNames() {
  static const std::map<std::string, uint16_t> m = {
      {"A", 1},   {"NS", 2},   {"CNAME", 5}, {"SOA", 6},  {"PTR", 12},
      {"MX", 15}, {"TXT", 16}, {"AAAA", 28}, {"SRV", 33}, {"OPT", 41}};
  return m;
}
std::string typeName(uint16_t t) {
  for (const auto& [n, v] : typeNames()) {
    if (v == t) {
      return n;
    }
  }
  return "TYPE" + std::to_string(t);
}
std::optional<uint16_t> typeOf(const std::string& s) {
  auto it = typeNames().find(s);
  if (it != typeNames().end()) {
    return it->second;
  }
  return std::nullopt;
}
const std::vector<std::string> kRcodes = {"NOERROR",  "FORMERR", "SERVFAIL",
                                          "NXDOMAIN", "NOTIMP",  "REFUSED"};
std::optional<unsigned> rcodeOf(const std::string& s) {
  for (size_t i = 0; i < kRcodes.size(); ++i) {
    if (kRcodes[i] == s) {
      return static_cast<unsigned>(i);
    }
  }
  return std::nullopt;
}
std::string rcodeName(unsigned r) {
  return r < kRcodes.size() ? kRcodes[r] : "RCODE" + std::to_string(r);
}

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  std::string w;
  while (in >> w) {
    out.push_back(w);
  }
  return out;
}

void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void put32(Bytes& b, uint32_t v) {
  put16(b, static_cast<uint16_t>(v >> 16));
  put16(b, static_cast<uint16_t>(v));
}
bool putName(Bytes& b, const std::string& name) {
  uint8_t w[256];
  size_t n = dns::nameFromText(name, w);
  b.insert(b.end(), w, w + n);
  return n != 0;
}

/// rdata of `type` from presentation words; error text on failure.
std::optional<Bytes> rdataOf(uint16_t type, const std::vector<std::string>& f, std::string& err) {
  Bytes r;
  auto need = [&](size_t n) {
    if (f.size() != n) {
      err = typeName(type) + " wants " + std::to_string(n) + " rdata fields";
      return false;
    }
    return true;
  };
  switch (type) {
    case 1:
    case 28: {
      if (!need(1)) {
        return std::nullopt;
      }
      auto ip = IpAddress::parse(f[0]);
      if (!ip || ip->isV4() != (type == 1)) {
        err = "bad address " + f[0];
        return std::nullopt;
      }
      sockaddr_storage ss{};
      SocketAddress sa{*ip, 0};
      sa.toSockaddr(ss);
      if (type == 1) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
        const auto* p = reinterpret_cast<const uint8_t*>(&a->sin_addr);
        r.assign(p, p + 4);
      } else {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
        const auto* p = reinterpret_cast<const uint8_t*>(&a->sin6_addr);
        r.assign(p, p + 16);
      }
      return r;
    }
    case 2:
    case 5:
    case 12:
      if (!need(1) || !putName(r, f[0])) {
        return std::nullopt;
      }
      return r;
    case 15:
      if (!need(2)) {
        return std::nullopt;
      }
      put16(r, static_cast<uint16_t>(std::stoul(f[0])));
      putName(r, f[1]);
      return r;
    case 16:
      for (const auto& s : f) {
        r.push_back(static_cast<uint8_t>(s.size()));
        r.insert(r.end(), s.begin(), s.end());
      }
      return r;
    case 33:
      if (!need(4)) {
        return std::nullopt;
      }
      for (int i = 0; i < 3; ++i) {
        put16(r, static_cast<uint16_t>(std::stoul(f[i])));
      }
      putName(r, f[3]);
      return r;
    case 6:
      if (!need(7) || !putName(r, f[0]) || !putName(r, f[1])) {
        return std::nullopt;
      }
      for (int i = 2; i < 7; ++i) {
        put32(r, static_cast<uint32_t>(std::stoul(f[i])));
      }
      return r;
    default:
      err = "no rdata syntax for " + typeName(type);
      return std::nullopt;
  }
}

/// "name ttl TYPE rdata..." of the RR at `off`; advances `off`. Empty on a malformed RR.
std::string renderRr(const Bytes& m, size_t& off, uint16_t* type_out) {
  auto owner = dns::readName(m, off);
  if (!owner || owner->end + 10u > m.size()) {
    return "";
  }
  std::string text = dns::nameToText(m, off);
  size_t p = owner->end;
  const uint16_t type = dns::readU16(m.data() + p);
  const uint32_t ttl =
      static_cast<uint32_t>(dns::readU16(m.data() + p + 4)) << 16 | dns::readU16(m.data() + p + 6);
  const uint16_t rdlen = dns::readU16(m.data() + p + 8);
  p += 10;
  if (p + rdlen > m.size()) {
    return "";
  }
  *type_out = type;
  std::ostringstream out;
  out << text << ' ' << ttl << ' ' << typeName(type);
  switch (type) {
    case 1:
      out << ' ' << int(m[p]) << '.' << int(m[p + 1]) << '.' << int(m[p + 2]) << '.'
          << int(m[p + 3]);
      break;
    case 28: {
      char buf[64];
      SocketAddress sa;
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      std::memcpy(&a.sin6_addr, m.data() + p, 16);
      sockaddr_storage ss{};
      std::memcpy(&ss, &a, sizeof a);
      sa = SocketAddress::fromSockaddr(ss);
      std::snprintf(buf, sizeof buf, "%s", sa.ip.toString().c_str());
      out << ' ' << buf;
      break;
    }
    case 2:
    case 5:
    case 12:
      out << ' ' << dns::nameToText(m, p);
      break;
    case 15:
      out << ' ' << dns::readU16(m.data() + p) << ' ' << dns::nameToText(m, p + 2);
      break;
    case 16:
      for (size_t i = p; i < p + rdlen;) {
        size_t n = m[i];
        out << ' ' << std::string(m.begin() + long(i + 1), m.begin() + long(i + 1 + n));
        i += 1 + n;
      }
      break;
    case 33:
      out << ' ' << dns::readU16(m.data() + p) << ' ' << dns::readU16(m.data() + p + 2) << ' '
          << dns::readU16(m.data() + p + 4) << ' ' << dns::nameToText(m, p + 6);
      break;
    case 6: {
      auto mname = dns::readName(m, p);
      if (!mname) {
        return "";
      }
      auto rname = dns::readName(m, mname->end);
      if (!rname || rname->end + 20u > m.size()) {
        return "";
      }
      out << ' ' << dns::nameToText(m, p) << ' ' << dns::nameToText(m, mname->end);
      for (size_t i = 0; i < 5; ++i) {
        const size_t q = rname->end + 4 * i;
        out << ' '
            << (static_cast<uint32_t>(dns::readU16(m.data() + q)) << 16 |
                dns::readU16(m.data() + q + 2));
      }
      break;
    }
    default:
      out << " <" << rdlen << " bytes>";
  }
  off = p + rdlen;
  return out.str();
}

struct Rendered {
  unsigned rcode = 0;
  uint16_t flags = 0;
  std::vector<std::string> records;  ///< "SECTION name ttl TYPE rdata", OPT left out
};

std::optional<Rendered> render(const Bytes& m) {
  if (m.size() < 12) {
    return std::nullopt;
  }
  Rendered r;
  r.flags = dns::readU16(m.data() + 2);
  r.rcode = r.flags & 0xf;
  size_t off = 12;
  for (unsigned i = 0; i < dns::readU16(m.data() + 4); ++i) {
    auto q = dns::readName(m, off);
    if (!q) {
      return std::nullopt;
    }
    off = q->end + 4u;
  }
  const char* sections[] = {"ANSWER", "AUTHORITY", "ADDITIONAL"};
  for (int s = 0; s < 3; ++s) {
    for (unsigned i = 0; i < dns::readU16(m.data() + 6 + 2 * s); ++i) {
      uint16_t type = 0;
      std::string rr = renderRr(m, off, &type);
      if (rr.empty()) {
        return std::nullopt;
      }
      if (type != dns::qtype::kOpt) {
        r.records.push_back(std::string(sections[s]) + ' ' + rr);
      }
    }
  }
  return r;
}

struct FlagName {
  const char* name;
  uint16_t bit;
};
constexpr FlagName kFlags[] = {
    {"qr", dns::flag::kQr}, {"aa", dns::flag::kAa}, {"tc", dns::flag::kTc}, {"rd", dns::flag::kRd},
    {"ra", dns::flag::kRa}, {"ad", dns::flag::kAd}, {"cd", dns::flag::kCd}};
std::optional<uint16_t> flagOf(const std::string& s) {
  for (const auto& f : kFlags) {
    if (s == f.name) {
      return f.bit;
    }
  }
  return std::nullopt;
}

/// The question of `m` as "name TYPE" (lower-cased name), or "".
std::string questionOf(const Bytes& m) {
  if (m.size() < 12 || dns::readU16(m.data() + 4) != 1) {
    return "";
  }
  auto q = dns::readName(m, 12);
  if (!q || q->end + 4u > m.size()) {
    return "";
  }
  std::string name = dns::nameToText(m, 12);
  std::transform(name.begin(), name.end(), name.begin(), [](char c) {
    return static_cast<char>(dns::asciiLower(static_cast<uint8_t>(c)));
  });
  return name + ' ' + typeName(dns::readU16(m.data() + q->end));
}

std::string fqdn(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(), [](char c) {
    return static_cast<char>(dns::asciiLower(static_cast<uint8_t>(c)));
  });
  if (name.empty() || name.back() != '.') {
    name += '.';
  }
  return name;
}

// ---- the scenario file ---------------------------------------------------------------------

struct Step {
  int line = 0;
  std::string id;  ///< "STEP n"
  std::vector<std::string> args;
  std::vector<std::vector<std::string>> body;  ///< continuation lines, split into words
  std::string where() const { return id + " (line " + std::to_string(line) + ")"; }
};
struct Scenario {
  std::string corefile;
  std::vector<std::pair<std::string, std::string>> options;  ///< OPTION NAME VALUE
  std::vector<Step> steps;
};

std::optional<Scenario> parseScenario(const std::string& path, std::string& err) {
  std::ifstream in(path);
  if (!in) {
    err = "cannot read " + path;
    return std::nullopt;
  }
  Scenario sc;
  std::string line;
  int n = 0;
  bool in_config = false;
  while (std::getline(in, line)) {
    ++n;
    if (in_config) {
      if (line == "CONFIG_END") {
        in_config = false;
      } else {
        sc.corefile += line + "\n";
      }
      continue;
    }
    auto w = words(line);
    if (w.empty() || w[0][0] == '#') {
      continue;
    }
    if (w[0] == "CONFIG") {
      in_config = true;
    } else if (w[0] == "OPTION") {
      if (w.size() != 3 || !sc.steps.empty()) {
        err = "line " + std::to_string(n) + ": OPTION NAME VALUE, before the first STEP";
        return std::nullopt;
      }
      sc.options.emplace_back(w[1], w[2]);
    } else if (w[0] == "STEP") {
      if (w.size() < 3) {
        err = "line " + std::to_string(n) + ": STEP n KEYWORD ...";
        return std::nullopt;
      }
      Step s;
      s.line = n;
      s.id = "STEP " + w[1];
      s.args.assign(w.begin() + 2, w.end());
      sc.steps.push_back(std::move(s));
    } else if (!sc.steps.empty() && std::isspace(static_cast<unsigned char>(line[0]))) {
      sc.steps.back().body.push_back(w);
    } else {
      err = "line " + std::to_string(n) + ": expected CONFIG, STEP or an indented line";
      return std::nullopt;
    }
  }
  if (in_config) {
    err = "CONFIG without CONFIG_END";
    return std::nullopt;
  }
  if (sc.corefile.empty()) {
    err = "no CONFIG";
    return std::nullopt;
  }
  return sc;
}

// ---- the runner ----------------------------------------------------------------------------

class Runner {
 public:
  ~Runner() {
    if (server_) {
      server_->stop(0ms);
      server_.reset();
    }
  }

  void run(const Scenario& sc) {
    auto cfg = resolver::config::parseCorefile(sc.corefile, "Corefile");
    ASSERT_TRUE(cfg.has_value()) << "CONFIG: " << cfg.error().message();
    for (auto& b : cfg->blocks) {
      b.port = 0;  // the runner's listener: loopback, port 0 (the kernel picks)
      ASSERT_FALSE(b.bind.empty()) << "CONFIG: every block needs `bind 127.0.0.1`";
    }
    resolver::ServerOptions opts;
    opts.workers = 1;
    opts.pin_workers = false;
    opts.udp_wait = resolver::UdpWait::kEpoll;
    opts.clock = &clock_;
    opts.transport = &transport_;
    for (const auto& [name, value] : sc.options) {
      auto ms = [&v = value] {
        return std::chrono::milliseconds(std::llround(std::stod(v) * 1000));
      };
      if (name == "tcp_max_connections") {
        opts.tcp_max_connections = static_cast<unsigned>(std::stoul(value));
      } else if (name == "tcp_idle_timeout") {
        opts.tcp_idle_timeout = ms();
      } else if (name == "tcp_query_timeout") {
        opts.tcp_query_timeout = ms();
      } else if (name == "max_upstream_queries") {
        opts.max_upstream_queries = static_cast<unsigned>(std::stoul(value));
      } else {
        FAIL() << "unknown OPTION " << name;
      }
    }
    auto server = resolver::Server::create(std::move(*cfg), opts);
    ASSERT_TRUE(server.has_value()) << server.error().message();
    server_ = std::move(*server);
    server_->start();
    ASSERT_FALSE(server_->boundUdp().empty());
    udp_addr_ = server_->boundUdp()[0];
    tcp_addr_ = server_->boundTcp()[0];
    auto barrier = resolver::net::connectUdp(udp_addr_);
    ASSERT_TRUE(barrier.has_value());
    barrier_ = std::move(*barrier);
    pump();
    for (const auto& step : sc.steps) {
      SCOPED_TRACE(step.where());
      runStep(step);
      if (::testing::Test::HasFatalFailure()) {
        return;
      }
      pump();
    }
    SCOPED_TRACE("end of scenario");
    EXPECT_TRUE(upstream_.empty())
        << upstream_.size()
        << " upstream queries not expected, first: " << questionOf(upstream_.front().wire);
    for (auto& [name, c] : clients_) {
      EXPECT_TRUE(c.answers.empty()) << "client " << name << " has an answer not checked";
    }
  }

 private:
  struct Client {
    bool tcp = false;
    Fd fd;
    Bytes pending;
    std::vector<Bytes> answers;
    uint16_t next_id = 1;
    bool closed = false;  ///< TCP: the server closed the connection
  };

  void runStep(const Step& s) {
    const std::string& kw = s.args[0];
    const std::vector<std::string> a(s.args.begin() + 1, s.args.end());
    if (kw == "REPEAT") {
      ASSERT_GE(a.size(), 2u) << "REPEAT N KEYWORD ARGS... ({i} = 1..N)";
      const unsigned n = static_cast<unsigned>(std::stoul(a[0]));
      for (unsigned i = 1; i <= n; ++i) {
        Step one = s;
        one.args.clear();
        for (size_t k = 1; k < a.size(); ++k) {
          std::string w = a[k];
          for (size_t pos; (pos = w.find("{i}")) != std::string::npos;) {
            w.replace(pos, 3, std::to_string(i));
          }
          one.args.push_back(w);
        }
        runStep(one);
        if (::testing::Test::HasFatalFailure()) {
          return;
        }
      }
    } else if (kw == "QUERY") {
      query(s, a);
    } else if (kw == "EXPECT_UPSTREAM") {
      expectUpstream(a);
    } else if (kw == "UPSTREAM_REPLY") {
      upstreamReply(s, a);
    } else if (kw == "UPSTREAM_REFUSE") {
      ASSERT_EQ(a.size(), 3u) << "UPSTREAM_REFUSE ADDR udp|tcp connect|icmp|no";
      auto up = SocketAddress::parse(a[0], 53);
      ASSERT_TRUE(up.has_value());
      auto how = a[2] == "connect" ? ScriptedTransport::Refuse::kConnect
                 : a[2] == "icmp"  ? ScriptedTransport::Refuse::kIcmp
                                   : ScriptedTransport::Refuse::kNo;
      transport_.refuse(*up, a[1] == "tcp", how);
    } else if (kw == "TIME_PASSES") {
      ASSERT_EQ(a.size(), 1u) << "TIME_PASSES SECONDS";
      clock_.advance(std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::duration<double>(std::stod(a[0]))));
    } else if (kw == "CHECK_ANSWER") {
      checkAnswer(s, a);
    } else if (kw == "CHECK_NO_ANSWER") {
      ASSERT_EQ(a.size(), 1u) << "CHECK_NO_ANSWER CLIENT";
      pump();
      EXPECT_TRUE(clients_[a[0]].answers.empty()) << "client " << a[0] << " got an answer";
    } else if (kw == "CHECK_CLOSED" || kw == "CHECK_OPEN") {
      ASSERT_EQ(a.size(), 1u) << kw << " CLIENT";
      auto it = clients_.find(a[0]);
      ASSERT_TRUE(it != clients_.end() && it->second.tcp) << "no TCP client " << a[0];
      collect();
      EXPECT_EQ(it->second.closed, kw == "CHECK_CLOSED") << "client " << a[0];
    } else if (kw == "CONNECT") {
      ASSERT_EQ(a.size(), 1u) << "CONNECT CLIENT";
      client(a[0], "tcp");
    } else if (kw == "CHECK_NO_UPSTREAM") {
      pump();
      EXPECT_TRUE(upstream_.empty()) << "unexpected upstream query "
                                     << (upstream_.empty() ? "" : questionOf(upstream_[0].wire));
    } else if (kw == "CHECK_METRIC") {
      checkMetric(a);
    } else if (kw == "CHECK_LOG") {
      checkLog(s);
    } else {
      FAIL() << "unknown keyword " << kw;
    }
  }

  void query(const Step& s, const std::vector<std::string>& a) {
    ASSERT_GE(a.size(), 4u) << "QUERY CLIENT udp|tcp NAME TYPE [do] [nord] [cd] [bufsize=N]";
    Client& c = client(a[0], a[1]);
    if (::testing::Test::HasFatalFailure()) {
      return;
    }
    auto type = typeOf(a[3]);
    ASSERT_TRUE(type.has_value()) << "unknown type " << a[3];
    uint16_t flags = dns::flag::kRd;
    bool edns = false, do_bit = false;
    uint16_t bufsize = 1232;
    for (size_t i = 4; i < a.size(); ++i) {
      if (a[i] == "do") {
        edns = do_bit = true;
      } else if (a[i] == "nord") {
        flags &= static_cast<uint16_t>(~dns::flag::kRd);
      } else if (a[i] == "cd") {
        flags |= dns::flag::kCd;
      } else if (a[i].rfind("bufsize=", 0) == 0) {
        edns = true;
        bufsize = static_cast<uint16_t>(std::stoul(a[i].substr(8)));
      } else {
        FAIL() << "unknown query option " << a[i];
      }
    }
    uint8_t q[512];
    size_t len = dns::buildQuery(c.next_id++, flags, a[2], *type, dns::qclass::kIn, q);
    ASSERT_GT(len, 0u) << "bad name " << a[2];
    Bytes wire(q, q + len);
    if (edns) {
      wire[11] = 1;
      wire.insert(wire.end(),
                  {0, 0, 41, static_cast<uint8_t>(bufsize >> 8), static_cast<uint8_t>(bufsize), 0,
                   0, static_cast<uint8_t>(do_bit ? 0x80 : 0), 0, 0, 0});
    }
    Bytes out;
    if (c.tcp) {
      put16(out, static_cast<uint16_t>(wire.size()));
    }
    out.insert(out.end(), wire.begin(), wire.end());
    ASSERT_EQ(::send(c.fd.get(), out.data(), out.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(out.size()))
        << s.where();
  }

  Client& client(const std::string& name, const std::string& proto) {
    auto it = clients_.find(name);
    if (it != clients_.end()) {
      EXPECT_EQ(it->second.tcp, proto == "tcp") << "client " << name << " changed transport";
      return it->second;
    }
    Client c;
    c.tcp = proto == "tcp";
    EXPECT_TRUE(proto == "tcp" || proto == "udp") << "udp or tcp, not " << proto;
    auto fd = c.tcp ? resolver::net::connectTcp(tcp_addr_) : resolver::net::connectUdp(udp_addr_);
    EXPECT_TRUE(fd.has_value());
    if (fd) {
      c.fd = std::move(*fd);
      if (c.tcp) {  // wait for the connect: the first query is then sent in one piece
        pollfd p{c.fd.get(), POLLOUT, 0};
        EXPECT_EQ(::poll(&p, 1, int(kWait.count())), 1);
      }
    }
    return clients_.emplace(name, std::move(c)).first->second;
  }

  /// Reads what the server sent to the clients and to the upstreams; true if anything new.
  bool collect() {
    bool news = false;
    for (auto& s : transport_.take()) {
      upstream_.push_back(std::move(s));
      news = true;
    }
    for (auto& [name, c] : clients_) {
      (void)name;
      uint8_t buf[65536];
      for (;;) {
        if (c.closed) {
          break;
        }
        ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, MSG_DONTWAIT);
        if (c.tcp && (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))) {
          c.closed = true;
          news = true;
        }
        if (n <= 0) {
          break;
        }
        news = true;
        if (!c.tcp) {
          c.answers.emplace_back(buf, buf + n);
          continue;
        }
        c.pending.insert(c.pending.end(), buf, buf + n);
        while (c.pending.size() >= 2) {
          size_t len = size_t{c.pending[0]} << 8 | c.pending[1];
          if (c.pending.size() < 2 + len) {
            break;
          }
          c.answers.emplace_back(c.pending.begin() + 2, c.pending.begin() + long(2 + len));
          c.pending.erase(c.pending.begin(), c.pending.begin() + long(2 + len));
        }
      }
    }
    return news;
  }

  /// One health probe through the worker: everything queued before it has been handled, and
  /// the ticks due at the time of its round ran (they run after the round's dispatch).
  void barrier() {
    uint8_t q[64];
    const uint16_t id = ++barrier_id_;
    size_t len =
        dns::buildQuery(id, 0, resolver::kHealthProbeName, dns::qtype::kTxt, dns::qclass::kCh, q);
    ASSERT_EQ(::send(barrier_.get(), q, len, 0), static_cast<ssize_t>(len));
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{barrier_.get(), POLLIN, 0};
      if (::poll(&p, 1, 100) == 1) {
        uint8_t buf[512];
        ssize_t n = ::recv(barrier_.get(), buf, sizeof buf, 0);
        if (n >= 12 && dns::readU16(buf) == id) {
          return;
        }
      }
    }
    FAIL() << "the worker did not answer a health probe within " << kWait.count() << " ms";
  }

  /// Until two rounds in a row bring nothing new (bounded).
  void pump() {
    int quiet = 0;
    for (int i = 0; i < 200 && quiet < 2; ++i) {
      barrier();
      if (::testing::Test::HasFatalFailure()) {
        return;
      }
      quiet = collect() ? 0 : quiet + 1;
    }
  }

  void expectUpstream(const std::vector<std::string>& a) {
    ASSERT_EQ(a.size(), 5u) << "EXPECT_UPSTREAM LABEL ADDR udp|tcp NAME TYPE";
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (upstream_.empty() && std::chrono::steady_clock::now() < deadline) {
      pump();
    }
    ASSERT_FALSE(upstream_.empty()) << "no upstream query";
    Sent s = std::move(upstream_.front());
    upstream_.erase(upstream_.begin());
    EXPECT_EQ(s.upstream.toString(), SocketAddress::parse(a[1], 53)->toString());
    EXPECT_EQ(s.tcp ? "tcp" : "udp", a[2]);
    EXPECT_EQ(questionOf(s.wire), fqdn(a[3]) + " " + a[4]);
    sent_[a[0]] = std::move(s);
  }

  void upstreamReply(const Step& s, const std::vector<std::string>& a) {
    ASSERT_GE(a.size(), 2u) << "UPSTREAM_REPLY LABEL RCODE|drop|reset|garbage [flags...]";
    auto it = sent_.find(a[0]);
    ASSERT_NE(it, sent_.end()) << "no upstream query labelled " << a[0];
    const Sent& q = it->second;
    if (a[1] == "drop") {
      return;
    }
    if (a[1] == "reset") {
      transport_.reset(q.conn);
      return;
    }
    if (a[1] == "garbage") {
      const uint8_t junk[] = {0xde, 0xad, 0xbe, 0xef, 0x00};
      transport_.reply(q.conn, junk);
      return;
    }
    auto rcode = rcodeOf(a[1]);
    ASSERT_TRUE(rcode.has_value()) << "unknown rcode " << a[1];
    uint16_t flags = 0;
    bool wrong_id = false;
    for (size_t i = 2; i < a.size(); ++i) {
      if (a[i] == "wrong-id") {
        wrong_id = true;
      } else if (auto f = flagOf(a[i])) {
        flags |= *f;
      } else {
        FAIL() << "unknown reply option " << a[i];
      }
    }
    std::vector<Bytes> sections[3];
    for (const auto& w : s.body) {
      ASSERT_GE(w.size(), 4u) << "SECTION NAME TTL TYPE RDATA...";
      int sec = w[0] == "ANSWER" ? 0 : w[0] == "AUTHORITY" ? 1 : w[0] == "ADDITIONAL" ? 2 : -1;
      ASSERT_GE(sec, 0) << "unknown section " << w[0];
      auto type = typeOf(w[3]);
      ASSERT_TRUE(type.has_value()) << "unknown type " << w[3];
      std::string err;
      auto rdata = rdataOf(*type, std::vector<std::string>(w.begin() + 4, w.end()), err);
      ASSERT_TRUE(rdata.has_value()) << err;
      sections[sec].push_back(rrWire(w[1], *type, static_cast<uint32_t>(std::stoul(w[2])), *rdata));
    }
    Bytes r = replyTo(q.wire, *rcode, sections[0], flags);
    r[8] = static_cast<uint8_t>(sections[1].size() >> 8);
    r[9] = static_cast<uint8_t>(sections[1].size());
    r[10] = static_cast<uint8_t>(sections[2].size() >> 8);
    r[11] = static_cast<uint8_t>(sections[2].size());
    for (int sec = 1; sec < 3; ++sec) {
      for (const auto& rr : sections[sec]) {
        r.insert(r.end(), rr.begin(), rr.end());
      }
    }
    if (wrong_id) {
      r[1] ^= 0x5a;
    }
    EXPECT_TRUE(transport_.reply(q.conn, r)) << "the connection is gone";
  }

  void checkAnswer(const Step& s, const std::vector<std::string>& a) {
    ASSERT_GE(a.size(), 2u) << "CHECK_ANSWER CLIENT RCODE [flag|!flag...]";
    auto cit = clients_.find(a[0]);
    ASSERT_NE(cit, clients_.end()) << "no client " << a[0];
    Client& c = cit->second;
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (c.answers.empty() && std::chrono::steady_clock::now() < deadline) {
      pump();
    }
    ASSERT_FALSE(c.answers.empty()) << "client " << a[0] << " got no answer";
    Bytes m = std::move(c.answers.front());
    c.answers.erase(c.answers.begin());
    auto r = render(m);
    ASSERT_TRUE(r.has_value()) << "malformed answer";
    EXPECT_EQ(rcodeName(r->rcode), a[1]);
    for (size_t i = 2; i < a.size(); ++i) {
      const bool neg = a[i][0] == '!';
      auto f = flagOf(neg ? a[i].substr(1) : a[i]);
      ASSERT_TRUE(f.has_value()) << "unknown flag " << a[i];
      EXPECT_EQ((r->flags & *f) != 0, !neg) << "flag " << a[i];
    }
    std::vector<std::string> want;
    for (const auto& w : s.body) {
      std::string line;
      for (size_t i = 0; i < w.size(); ++i) {
        // Names as the answer prints them: FQDN (owner and name rdata keep their case).
        line += (i ? " " : "") + ((i == 1 && w[i].back() != '.') ? w[i] + "." : w[i]);
      }
      want.push_back(line);
    }
    EXPECT_EQ(r->records, want);
  }

  /// CHECK_LOG COUNT REGEX: COUNT lines of the server log so far match the (ECMAScript) regex,
  /// which is the rest of the step's line.
  void checkLog(const Step& s) {
    ASSERT_GE(s.args.size(), 3u) << "CHECK_LOG COUNT REGEX";
    std::string pattern;
    for (size_t i = 2; i < s.args.size(); ++i) {
      pattern += (i > 2 ? " " : "") + s.args[i];
    }
    std::regex re(pattern);
    std::vector<std::string> all = log_.lines();
    size_t n = 0;
    for (const auto& l : all) {
      n += std::regex_search(l, re) ? 1 : 0;
    }
    EXPECT_EQ(n, std::stoul(s.args[1]))
        << "lines matching " << pattern << " in " << ::testing::PrintToString(all);
  }

  void checkMetric(const std::vector<std::string>& a) {
    ASSERT_EQ(a.size(), 2u) << "CHECK_METRIC NAME{LABEL=\"V\",...} VALUE";
    std::smatch sm;
    static const std::regex spec(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?$)");
    ASSERT_TRUE(std::regex_match(a[0], sm, spec)) << "bad metric " << a[0];
    const std::string name = sm[1];
    const std::string want_labels = sm[3];
    static const std::regex label(R"re(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)")re");
    auto labelsOf = [](const std::string& s) {
      std::map<std::string, std::string> m;
      for (std::sregex_iterator it(s.begin(), s.end(), label), end; it != end; ++it) {
        m[(*it)[1]] = (*it)[2];
      }
      return m;
    };
    const auto want = labelsOf(want_labels);
    const std::string text = server_->renderMetrics();
    std::istringstream in(text);
    std::string line;
    double sum = 0;
    bool seen = false;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') {
        continue;
      }
      const size_t sp = line.rfind(' ');
      const std::string series = line.substr(0, sp);
      const size_t brace = series.find('{');
      if (series.substr(0, brace) != name) {
        continue;
      }
      const auto got = labelsOf(brace == std::string::npos ? "" : series.substr(brace));
      bool match = true;
      for (const auto& [k, v] : want) {
        auto it = got.find(k);
        match = match && it != got.end() && it->second == v;
      }
      if (match) {
        seen = true;
        sum += std::stod(line.substr(sp + 1));
      }
    }
    const double value = std::stod(a[1]);
    EXPECT_TRUE(seen || value == 0) << "no series " << a[0];
    EXPECT_EQ(sum, value) << a[0] << " (sum of the matching series)";
  }

  CapturedLog log_;  // before server_: detached after the server stopped
  resolver::net::ManualClock clock_;
  ScriptedTransport transport_;
  std::unique_ptr<resolver::Server> server_;
  SocketAddress udp_addr_, tcp_addr_;
  Fd barrier_;
  uint16_t barrier_id_ = 0;
  std::map<std::string, Client> clients_;
  std::vector<Sent> upstream_;  ///< sent by the server, not yet expected
  std::map<std::string, Sent> sent_;
};

std::vector<std::string> scenarioFiles() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(NLD_SCENARIO_DIR)) {
    if (e.path().extension() == ".scn") {
      out.push_back(e.path().stem().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

class Scenarios : public ::testing::TestWithParam<std::string> {};

TEST_P(Scenarios, Run) {
  const std::string path = std::string(NLD_SCENARIO_DIR) + "/" + GetParam() + ".scn";
  SCOPED_TRACE(path);
  std::string err;
  auto sc = parseScenario(path, err);
  ASSERT_TRUE(sc.has_value()) << err;
  Runner runner;
  runner.run(*sc);
}

INSTANTIATE_TEST_SUITE_P(Files, Scenarios, ::testing::ValuesIn(scenarioFiles()),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           std::string n = p.param;
                           std::replace_if(
                               n.begin(), n.end(), [](char c) { return !std::isalnum(c); }, '_');
                           return n;
                         });

}  // namespace
}  // namespace nld::test
