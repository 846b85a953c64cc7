// End to end: every client gets its own answer (ID, question casing, EDNS, never another
// client's options), the upstream sees only our OPT, and a truncated UDP answer keeps the whole
// records that fit. A scripted UDP upstream on 127.0.0.3:5300 stands in for kube-dns, inside the
// test's private network namespace.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "resolver/dns/message.h"
#include "resolver/dns/rr_walk.h"
#include "resolver/forward/transport.h"
#include "resolver/net/clock.h"
#include "tests/resolver/server/e2e_support.h"

namespace nld::test {
namespace {

using namespace nld::resolver;
using Bytes = std::vector<uint8_t>;
using ::testing::HasSubstr;

/// A UDP upstream on 127.0.0.3:5300 that records every query and answers it with `respond`
/// after `delay`.
class ScriptedUpstream {
 public:
  using Respond = std::function<Bytes(const Bytes& query)>;
  ScriptedUpstream(Respond respond, std::chrono::milliseconds delay)
      : respond_(std::move(respond)), delay_(delay) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(5300);
    a.sin_addr.s_addr = htonl(0x7f000003);
    ok_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    thread_ = std::thread([this] { loop(); });
  }
  ~ScriptedUpstream() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  bool ok() const { return ok_; }
  std::vector<Bytes> queries() {
    std::lock_guard lock(mu_);
    return queries_;
  }

 private:
  void loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) {
        continue;
      }
      uint8_t buf[4096];
      sockaddr_in from{};
      socklen_t len = sizeof from;
      ssize_t n = ::recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n < 12) {
        continue;
      }
      Bytes q(buf, buf + n);
      {
        std::lock_guard lock(mu_);
        queries_.push_back(q);
      }
      std::this_thread::sleep_for(delay_);
      Bytes r = respond_(q);
      ::sendto(fd_, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
    }
  }

  Respond respond_;
  std::chrono::milliseconds delay_;
  int fd_ = -1;
  bool ok_ = false;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<Bytes> queries_;
  std::thread thread_;
};

const std::string kCorefile =
    "example.org:53 {\n    cache 30\n    bind 127.0.0.1\n    forward . 127.0.0.3:5300\n}\n";

void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

/// Header + question of `query` as a response (QR, RA, `rcode`, counts zeroed).
Bytes replyHead(const Bytes& query, unsigned rcode) {
  auto q = dns::parseQuery(query);
  Bytes r(query.begin(), query.begin() + (q ? q->question_end : 12));
  r[2] = static_cast<uint8_t>(r[2] | 0x80);
  r[3] = static_cast<uint8_t>(0x80 | rcode);
  for (size_t i = 6; i < 12; ++i) {
    r[i] = 0;
  }
  return r;
}

/// The options of the query's OPT RR (empty without one).
Bytes optionsOf(std::span<const uint8_t> msg) {
  auto e = dns::findEdns(msg);
  if (!e) {
    return {};
  }
  const size_t at = size_t{e->opt_offset} + 11;
  return Bytes(msg.begin() + static_cast<long>(at),
               msg.begin() + static_cast<long>(at + e->rdlength));
}

/// A client query: ID, `name` (any case) A IN, RD; with `edns`, an OPT RR (4096, `do_bit`,
/// `options`).
Bytes clientQuery(uint16_t id, const std::string& name, bool edns, bool do_bit = false,
                  const Bytes& options = {}) {
  Bytes q = wireQuery(id, name, 1, false);
  if (edns) {
    q[11] = 1;
    q.insert(q.end(), {0, 0, 41, 0x10, 0x00, 0, 0, static_cast<uint8_t>(do_bit ? 0x80 : 0), 0});
    put16(q, static_cast<uint16_t>(options.size()));
    q.insert(q.end(), options.begin(), options.end());
  }
  return q;
}

/// Sends each query from its own socket, all at once, and returns the answers (empty: none
/// within 6 s).
std::vector<Bytes> exchangeConcurrently(const std::vector<Bytes>& queries) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(53);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<int> fds;
  for (const auto& q : queries) {
    int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    ::sendto(fd, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    fds.push_back(fd);
  }
  std::vector<Bytes> answers;
  for (int fd : fds) {
    pollfd p{fd, POLLIN, 0};
    Bytes a;
    if (::poll(&p, 1, 6000) > 0) {
      uint8_t buf[65535];
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) {
        a.assign(buf, buf + n);
      }
    }
    answers.push_back(a);
    ::close(fd);
  }
  return answers;
}

Bytes exchange(const Bytes& query) { return exchangeConcurrently({query})[0]; }

// A coalesced, uncacheable answer (REFUSED) reaches three clients: each gets its own ID,
// casing and EDNS, none the cookie of another, and the upstream sees only our OPT.
TEST(ServerAnswers, CoalescedRefusedIsPerClientAndUpstreamSeesOnlyOurOpt) {
  NLD_ENTER_NETNS();
  // Like a cookie-aware server: echo the query's options, add a server cookie.
  ScriptedUpstream up(
      [](const Bytes& q) {
        Bytes r = replyHead(q, 5);
        Bytes opts = optionsOf(q);
        opts.insert(opts.end(), {0, 10, 0, 16, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2});
        r.insert(r.end(), {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0});
        put16(r, static_cast<uint16_t>(opts.size()));
        r.insert(r.end(), opts.begin(), opts.end());
        r[11] = 1;
        return r;
      },
      std::chrono::milliseconds(300));
  ASSERT_TRUE(up.ok());
  auto server = startServer(kCorefile, 1);
  ASSERT_NE(server, nullptr);
  const Bytes cookie_a = {0, 10, 0, 8, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa};
  Bytes cookie_c = {0, 10, 0, 8, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc};
  cookie_c.insert(cookie_c.end(), {0, 12, 0, 6, 0, 0, 0, 0, 0, 0});  // + padding
  const std::vector<Bytes> queries = {
      clientQuery(101, "Refused.Example.Org", true, false, cookie_a),
      clientQuery(102, "refused.example.org", false),
      clientQuery(103, "REFUSED.example.ORG", true, false, cookie_c),
  };
  auto answers = exchangeConcurrently(queries);

  auto sent = up.queries();
  ASSERT_EQ(sent.size(), 1u) << "coalesced";
  auto uq = dns::parseQuery(sent[0]);
  ASSERT_TRUE(uq);
  ASSERT_TRUE(uq->edns) << "our OPT";
  EXPECT_EQ(uq->edns->rdlength, 0) << "no client cookie or padding upstream";
  EXPECT_EQ(uq->edns->udp_size, dns::kAdvertisedUdpSize);
  EXPECT_EQ(sent[0].size(), size_t{uq->question_end} + dns::kOptRrSize);

  ASSERT_EQ(answers.size(), queries.size());
  for (size_t i = 0; i < queries.size(); ++i) {
    SCOPED_TRACE(i);
    const Bytes& a = answers[i];
    auto q = dns::parseQuery(queries[i]);
    auto info = dns::inspectResponse(a);
    ASSERT_TRUE(info) << "answer " << a.size() << " bytes";
    EXPECT_EQ(info->id, q->id);
    EXPECT_EQ(info->rcode, dns::Rcode::kRefused);
    EXPECT_TRUE(std::equal(a.begin() + 12, a.begin() + q->question_end, queries[i].begin() + 12))
        << "the client's own question bytes";
    EXPECT_EQ(info->opt_offset.has_value(), q->edns.has_value()) << "OPT iff the client sent one";
    EXPECT_TRUE(optionsOf(a).empty()) << "no cookie of the upstream or of another client";
  }
}

TEST(ServerAnswers, UpstreamQueryCarriesOurOptWithTheClientsDo) {
  NLD_ENTER_NETNS();
  ScriptedUpstream up([](const Bytes& q) { return replyHead(q, 5); }, std::chrono::milliseconds(0));
  ASSERT_TRUE(up.ok());
  auto server = startServer(kCorefile, 1);
  ASSERT_NE(server, nullptr);
  const Bytes padding = {0, 12, 0, 4, 0, 0, 0, 0};
  auto a1 = exchange(clientQuery(7, "do.example.org", true, true, padding));
  auto a2 = exchange(clientQuery(8, "plain.example.org", false));
  ASSERT_FALSE(a1.empty());
  ASSERT_FALSE(a2.empty());
  auto sent = up.queries();
  ASSERT_EQ(sent.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    auto uq = dns::parseQuery(sent[i]);
    ASSERT_TRUE(uq && uq->edns) << i;
    EXPECT_EQ(uq->edns->rdlength, 0) << i;
    EXPECT_EQ(uq->edns->do_bit, i == 0) << i;
  }
  // The DO client's REFUSED carries its DO bit back; the plain client gets no OPT.
  auto i1 = dns::inspectResponse(a1);
  auto i2 = dns::inspectResponse(a2);
  ASSERT_TRUE(i1 && i1->opt_offset);
  EXPECT_EQ(dns::readU32(a1.data() + *i1->opt_offset + 5) & dns::kEdnsDoBit, dns::kEdnsDoBit);
  ASSERT_TRUE(i2);
  EXPECT_FALSE(i2->opt_offset);
}

// A headless Service with 30 endpoints, asked by a client without EDNS (musl): as many whole A
// records as fit in 512 bytes and TC, from the forwarded answer and from the cache alike.
TEST(ServerAnswers, LargeRrsetOverUdpKeepsWholeRecordsAndSetsTc) {
  NLD_ENTER_NETNS();
  ScriptedUpstream up(
      [](const Bytes& q) {
        Bytes r = replyHead(q, 0);
        for (uint8_t i = 0; i < 30; ++i) {
          r.insert(r.end(), {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 1, 0, i});
        }
        r[7] = 30;
        return r;
      },
      std::chrono::milliseconds(0));
  ASSERT_TRUE(up.ok());
  auto server = startServer(kCorefile, 1);
  ASSERT_NE(server, nullptr);
  const Bytes q = clientQuery(42, "headless.example.org", false);
  const size_t question_end = 12 + 22 + 4;
  const size_t fit = (512 - question_end) / 16;  // 29
  for (const char* pass : {"forwarded", "cached"}) {
    SCOPED_TRACE(pass);
    Bytes a = exchange(q);
    ASSERT_LE(a.size(), 512u);
    auto info = dns::inspectResponse(a);
    ASSERT_TRUE(info);
    EXPECT_TRUE(info->tc);
    EXPECT_EQ(info->ancount, fit);
    EXPECT_EQ(info->id, 42);
  }
  EXPECT_EQ(up.queries().size(), 1u);
  // dig as the client: +ignore shows the truncated answer instead of retrying over TCP.
  auto r = dig("+ignore +bufsize=512 headless.example.org A");
  EXPECT_THAT(r.out, HasSubstr(" tc"));
  EXPECT_THAT(r.out, HasSubstr("ANSWER: 28,"));  // 11 bytes of OPT: one record less
  auto full = dig("+tcp headless.example.org A");
  EXPECT_THAT(full.out, HasSubstr("ANSWER: 30,"));
}

// Issue 12: an upstream whose socket fails at once. The forwarder reports that failure after
// the round, never inside the start() called from the query's handleQuery() (which for a TCP
// client builds into the worker's scratch buffer, the one the SERVFAIL is now built in too).
class FailingTransport final : public forward::UpstreamTransport {
 public:
  std::optional<Fd> connectUdp(const SocketAddress&) noexcept override {
    ++connects;
    errno = ENETUNREACH;
    return std::nullopt;
  }
  std::optional<Fd> connectTcp(const SocketAddress&) noexcept override {
    ++connects;
    errno = ENETUNREACH;
    return std::nullopt;
  }
  std::atomic<int> connects = 0;
};

bool isServfailFor(const Bytes& answer, const Bytes& query) {
  return answer.size() >= query.size() && answer[0] == query[0] && answer[1] == query[1] &&
         (answer[2] & 0x80) != 0 && (answer[3] & 0x0f) == 2 && answer[4] == 0 && answer[5] == 1 &&
         std::equal(query.begin() + 12, query.end(), answer.begin() + 12);
}

TEST(ServerAnswers, AnUpstreamFailingAtOnceGetsEachClientItsOwnServfail) {
  NLD_ENTER_NETNS();
  FailingTransport transport;
  resolver::ServerOptions opts;
  opts.transport = &transport;
  auto server = startServer(kCorefile, 1, opts);
  ASSERT_NE(server, nullptr);
  // UDP.
  const Bytes udp_query = wireQuery(0x4242, "www.example.org", 1);
  auto udp = exchangeConcurrently({udp_query});
  ASSERT_EQ(udp.size(), 1u);
  EXPECT_TRUE(isServfailFor(udp[0], udp_query));
  // TCP, two forwarded queries pipelined in one segment: each answer is its own query's.
  const Bytes q1 = wireQuery(0x1111, "one.example.org", 1);
  const Bytes q2 = wireQuery(0x2222, "two.example.org", 28);
  Bytes both;
  for (const Bytes* q : {&q1, &q2}) {
    put16(both, static_cast<uint16_t>(q->size()));
    both.insert(both.end(), q->begin(), q->end());
  }
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(53);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  ASSERT_EQ(::send(fd, both.data(), both.size(), MSG_NOSIGNAL), static_cast<ssize_t>(both.size()));
  Bytes in;
  std::vector<Bytes> answers;
  while (answers.size() < 2) {
    pollfd p{fd, POLLIN, 0};
    ASSERT_GT(::poll(&p, 1, 5000), 0) << "no answer over TCP";
    uint8_t buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    in.insert(in.end(), buf, buf + n);
    while (in.size() >= 2 && in.size() >= 2u + ((in[0] << 8) | in[1])) {
      size_t len = (in[0] << 8) | in[1];
      answers.emplace_back(in.begin() + 2, in.begin() + 2 + static_cast<ptrdiff_t>(len));
      in.erase(in.begin(), in.begin() + 2 + static_cast<ptrdiff_t>(len));
    }
  }
  ::close(fd);
  const Bytes& a1 = answers[0][0] == q1[0] ? answers[0] : answers[1];
  const Bytes& a2 = answers[0][0] == q1[0] ? answers[1] : answers[0];
  EXPECT_TRUE(isServfailFor(a1, q1));
  EXPECT_TRUE(isServfailFor(a2, q2));
  // UDP once, TCP once: the second TCP query fails on the reconnect backoff, without a connect.
  EXPECT_EQ(transport.connects.load(), 2);
}

// The upstream over TCP is one end of a socketpair: a thread answers `hit.` queries (A, TTL 30)
// and leaves the others unanswered; breakWrites() shuts our end for writing, so the next
// send() to it fails at once (EPIPE) without making it readable — no epoll event tells the
// worker before that send.
class PairTransport final : public forward::UpstreamTransport {
 public:
  ~PairTransport() {
    stop_ = true;
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  std::optional<Fd> connectUdp(const SocketAddress&) noexcept override {
    errno = ENETUNREACH;
    return std::nullopt;
  }
  std::optional<Fd> connectTcp(const SocketAddress&) noexcept override {
    int sv[2];
    if (connected_ || ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      errno = ECONNREFUSED;
      return std::nullopt;
    }
    ::fcntl(sv[0], F_SETFL, O_NONBLOCK);
    connected_ = true;
    ours_.reset(::dup(sv[0]));
    peer_.reset(sv[1]);
    thread_ = std::thread([this] { serve(); });
    return Fd(sv[0]);
  }
  void breakWrites() { ::shutdown(ours_.get(), SHUT_WR); }
  int unanswered() const { return unanswered_.load(); }

 private:
  void serve() {
    Bytes in;
    while (!stop_) {
      pollfd p{peer_.get(), POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) {
        continue;
      }
      uint8_t buf[4096];
      ssize_t n = ::recv(peer_.get(), buf, sizeof buf, 0);
      if (n <= 0) {
        return;  // our end shut for writing; keep the fd open (closing it would wake the worker)
      }
      in.insert(in.end(), buf, buf + n);
      while (in.size() >= 2 && in.size() >= 2u + ((in[0] << 8) | in[1])) {
        Bytes q(in.begin() + 2, in.begin() + 2 + ((in[0] << 8) | in[1]));
        in.erase(in.begin(), in.begin() + 2 + static_cast<ptrdiff_t>(q.size()));
        if (q.size() < 17 || std::string(q.begin() + 13, q.begin() + 16) != "hit") {
          ++unanswered_;
          continue;
        }
        Bytes r = replyHead(q, 0);
        r[7] = 1;  // one answer: hit. A 192.0.2.7, TTL 30
        r.insert(r.end(), {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 192, 0, 2, 7});
        Bytes frame;
        put16(frame, static_cast<uint16_t>(r.size()));
        frame.insert(frame.end(), r.begin(), r.end());
        ::send(peer_.get(), frame.data(), frame.size(), MSG_NOSIGNAL);
      }
    }
  }
  bool connected_ = false;
  Fd ours_, peer_;
  std::thread thread_;
  std::atomic<bool> stop_ = false;
  std::atomic<int> unanswered_ = 0;
};

TEST(ServerAnswers, AFailureInsideStartDoesNotOverwriteTheAnswerBeingBuilt) {
  // A TCP client's stale hit is built in the worker's scratch buffer, then its refresh starts
  // over a TCP upstream connection whose send fails at once: that fails another exchange on the
  // connection (a UDP client's). Its SERVFAIL must reach that client after the round, not be
  // built into scratch over the stale answer while handleQuery() still needs it.
  NLD_ENTER_NETNS();
  net::ManualClock clock;
  PairTransport transport;
  resolver::ServerOptions opts;
  opts.clock = &clock;
  opts.transport = &transport;
  auto server = startServer(
      "example.org:53 {\n    cache 30 {\n        serve_stale\n    }\n    bind 127.0.0.1\n"
      "    forward . 127.0.0.3:5300 {\n        force_tcp\n        timeout 10m 10m\n    }\n}\n",
      1, opts);
  ASSERT_NE(server, nullptr);
  const Bytes hit = wireQuery(0x0101, "hit.example.org", 1);
  Bytes first = exchange(hit);
  ASSERT_GE(first.size(), 12u);
  ASSERT_EQ(first[7], 1) << "not answered from the upstream";
  // A UDP client's query waits on the upstream connection.
  const Bytes slow = wireQuery(0x5107, "slow.example.org", 1);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(53);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ::sendto(udp, slow.data(), slow.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  for (int i = 0; i < 500 && transport.unanswered() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(transport.unanswered(), 1);
  transport.breakWrites();
  clock.advance(std::chrono::seconds(31));  // hit. is stale now
  // The stale hit over TCP.
  const Bytes stale_q = wireQuery(0x7a7a, "hit.example.org", 1);
  Bytes frame;
  put16(frame, static_cast<uint16_t>(stale_q.size()));
  frame.insert(frame.end(), stale_q.begin(), stale_q.end());
  int tcp = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::connect(tcp, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  ASSERT_EQ(::send(tcp, frame.data(), frame.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(frame.size()));
  Bytes in;
  while (in.size() < 2 || in.size() < 2u + ((in[0] << 8) | in[1])) {
    pollfd p{tcp, POLLIN, 0};
    ASSERT_GT(::poll(&p, 1, 5000), 0) << "no answer over TCP";
    uint8_t buf[4096];
    ssize_t n = ::recv(tcp, buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    in.insert(in.end(), buf, buf + n);
  }
  ::close(tcp);
  Bytes stale(in.begin() + 2, in.begin() + 2 + ((in[0] << 8) | in[1]));
  ASSERT_GE(stale.size(), stale_q.size());
  EXPECT_EQ(stale[0], 0x7a);
  EXPECT_EQ(stale[1], 0x7a);
  EXPECT_EQ(stale[3] & 0x0f, 0) << "rcode";
  EXPECT_EQ(stale[7], 1) << "the stale answer";
  EXPECT_TRUE(std::equal(stale_q.begin() + 12, stale_q.end(), stale.begin() + 12));
  // The waiting UDP client gets its SERVFAIL.
  pollfd p{udp, POLLIN, 0};
  ASSERT_GT(::poll(&p, 1, 5000), 0) << "no SERVFAIL for the failed exchange";
  uint8_t buf[512];
  ssize_t n = ::recv(udp, buf, sizeof buf, 0);
  ::close(udp);
  ASSERT_GT(n, 0);
  EXPECT_TRUE(isServfailFor(Bytes(buf, buf + n), slow));
}

}  // namespace
}  // namespace nld::test
