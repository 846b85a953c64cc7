// End to end: every client gets its own answer (ID, question casing, EDNS, never another
// client's options), the upstream sees only our OPT, and a truncated UDP answer keeps the whole
// records that fit. A scripted UDP upstream on 127.0.0.3:5300 stands in for kube-dns, inside the
// test's private network namespace.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "resolver/dns/message.h"
#include "resolver/dns/rr_walk.h"
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

}  // namespace
}  // namespace nld::test
