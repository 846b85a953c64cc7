// The Forwarder on a real EventLoop driven by a ManualClock, talking to scripted upstreams
// (socketpair peers, see scripted_transport.h): every branch of forwarder.cc without a real
// socket to an upstream or a wall-clock wait. Time passes with advance(), which runs the
// forwarder's tick the way the worker's 10 ms tick does.
#include "resolver/forward/forwarder.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "resolver/dns/message.h"
#include "resolver/dns/types.h"
#include "resolver/net/clock.h"
#include "resolver/net/event_loop.h"
#include "tests/resolver/dns/msg_builder.h"
#include "tests/resolver/forward/scripted_transport.h"

namespace nld::resolver::forward {
namespace {

using namespace std::chrono_literals;
using test::Bytes;
using test::ScriptedTransport;
using Kind = Failure::Kind;

SocketAddress addr(const std::string& text) { return *SocketAddress::parse(text, 53); }

Bytes query(const std::string& name, uint16_t type = dns::qtype::kA) {
  return test::Msg().id(0x4242).rd().question(name, type).wire();
}

Bytes aRecord(const std::string& name, uint32_t ttl = 30) {
  const uint8_t ip[] = {192, 0, 2, 1};
  return test::rrWire(name, dns::qtype::kA, ttl, ip);
}

uint16_t idOf(const Bytes& wire) { return static_cast<uint16_t>(wire[0] << 8 | wire[1]); }

class ForwarderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto l = net::EventLoop::create(clock_);
    ASSERT_TRUE(l.has_value());
    loop_ = std::move(*l);
    fwd_ = std::make_unique<Forwarder>(
        *loop_,
        [this](uint64_t token, std::span<const uint8_t> answer) {
          answers_[token] = Bytes(answer.begin(), answer.end());
          failures_[token] = fwd_->lastFailure();
        },
        registry_, 0, /*health_prober=*/true, transport_);
  }

  std::shared_ptr<ForwardGroup> group(
      const std::vector<std::string>& to,
      const std::function<void(config::ForwardConfig&)>& tweak = {}) {
    auto g = std::make_shared<ForwardGroup>();
    g->config.from = ".";
    g->config.policy = config::Policy::kSequential;
    for (const auto& t : to) {
      g->config.to.push_back(addr(t));
      auto up = std::make_shared<UpstreamState>(addr(t));
      up->stats = registry_.upstream(up->label);
      g->upstreams.push_back(up);
    }
    if (tweak) {
      tweak(g->config);
    }
    return g;
  }

  /// Dispatches until a round has nothing to do.
  void pump() {
    for (int i = 0; i < 50; ++i) {
      loop_->runOnce(0ms);
      if (loop_->lastEvents() == 0) {
        return;
      }
    }
  }
  /// Lets `d` pass: the forwarder's tick (deadlines, idle expiry, probes) runs at the new time.
  void advance(std::chrono::milliseconds d) {
    clock_.advance(d);
    loop_->refreshNow();
    fwd_->tick();
    pump();
  }
  Forwarder::Start start(uint64_t token, const std::shared_ptr<ForwardGroup>& g, const Bytes& q,
                         bool client_tcp = false) {
    auto r = fwd_->start(token, g, q, client_tcp);
    pump();
    return r;
  }
  ScriptedTransport::Sent sent() {
    auto s = transport_.next(0ms);
    EXPECT_TRUE(s.has_value()) << "no upstream query";
    return s.value_or(ScriptedTransport::Sent{});
  }
  bool noneSent() { return transport_.take().empty(); }
  bool done(uint64_t token) const { return answers_.count(token) != 0; }
  bool failed(uint64_t token) const { return done(token) && answers_.at(token).empty(); }
  uint64_t hist(const std::string& up, unsigned rcode = 0) {
    uint64_t n = 0;
    for (const auto& b : registry_.upstream(up)[0].duration[rcode].buckets) {
      n += b.get();
    }
    return n;
  }

  net::ManualClock clock_;
  std::unique_ptr<net::EventLoop> loop_;
  metrics::Registry registry_{1};
  ScriptedTransport transport_;
  std::unique_ptr<net::TcpBudget> budget_;  // outlives the forwarder's connections
  std::unique_ptr<Forwarder> fwd_;
  std::map<uint64_t, Bytes> answers_;
  std::map<uint64_t, Failure> failures_;
};

TEST_F(ForwarderTest, UdpAnswerCompletesWithTheUpstreamsAnswer) {
  auto g = group({"10.0.0.1:53"});
  const Bytes q = query("www.example.org");
  ASSERT_EQ(start(1, g, q), Forwarder::Start::kStarted);
  EXPECT_TRUE(fwd_->needsTick());
  auto s = sent();
  EXPECT_EQ(s.upstream, addr("10.0.0.1:53"));
  EXPECT_FALSE(s.tcp);
  EXPECT_TRUE(dns::sameQuestion(q, s.wire));
  EXPECT_FALSE(done(1));
  const Bytes r = test::replyTo(s.wire, 0, {aRecord("www.example.org")});
  ASSERT_TRUE(transport_.reply(s.conn, r));
  pump();
  ASSERT_TRUE(done(1));
  EXPECT_EQ(answers_[1], r);
  EXPECT_EQ(failures_[1].kind, Kind::kNone);
  EXPECT_EQ(hist("10.0.0.1:53"), 1u);
  EXPECT_EQ(g->in_flight.load(), 0u);
  advance(10ms);  // the retired attempt is freed at the next tick
  EXPECT_TRUE(transport_.closedByForwarder(s.conn)) << "one UDP socket per attempt";
  EXPECT_FALSE(fwd_->needsTick());
}

TEST_F(ForwarderTest, SpoofedAnswersAreIgnored) {
  auto g = group({"10.0.0.1:53"});
  ASSERT_EQ(start(1, g, query("www.example.org")), Forwarder::Start::kStarted);
  auto s = sent();
  Bytes wrong_id = test::replyTo(s.wire, 0, {aRecord("www.example.org")});
  wrong_id[1] ^= 1;
  Bytes other = test::Msg::replyTo("other.example.org", dns::qtype::kA, idOf(s.wire)).wire();
  const Bytes garbage = {0xde, 0xad};
  Bytes not_a_response = s.wire;  // QR clear: inspectResponse() refuses it
  for (const Bytes* b : std::vector<const Bytes*>{&wrong_id, &other, &garbage, &not_a_response}) {
    ASSERT_TRUE(transport_.reply(s.conn, *b));
  }
  pump();
  EXPECT_FALSE(done(1));
  const Bytes right = test::replyTo(s.wire, 0, {aRecord("www.example.org")});
  ASSERT_TRUE(transport_.reply(s.conn, right));
  pump();
  ASSERT_TRUE(done(1));
  EXPECT_EQ(answers_[1], right);
}

TEST_F(ForwarderTest, TruncatedUdpAnswerIsRetriedOverTcpOnTheSameUpstream) {
  auto g = group({"10.0.0.1:53", "10.0.0.2:53"});
  ASSERT_EQ(start(1, g, query("big.example.org", dns::qtype::kTxt)), Forwarder::Start::kStarted);
  auto s = sent();
  ASSERT_FALSE(s.tcp);
  ASSERT_TRUE(transport_.reply(s.conn, test::replyTo(s.wire, 0, {}, dns::flag::kTc)));
  pump();
  EXPECT_FALSE(done(1));
  auto t = sent();
  EXPECT_TRUE(t.tcp);
  EXPECT_EQ(t.upstream, addr("10.0.0.1:53"));
  const Bytes r = test::replyTo(t.wire, 0, {aRecord("big.example.org")});
  ASSERT_TRUE(transport_.reply(t.conn, r));
  pump();
  ASSERT_TRUE(done(1));
  EXPECT_EQ(answers_[1], r);
  // A TC answer over TCP is an answer.
  ASSERT_EQ(start(2, g, query("big2.example.org"), /*client_tcp=*/true),
            Forwarder::Start::kStarted);
  auto t2 = sent();
  EXPECT_EQ(t2.conn, t.conn) << "the persistent connection is reused";
  ASSERT_TRUE(transport_.reply(t2.conn, test::replyTo(t2.wire, 0, {}, dns::flag::kTc)));
  pump();
  EXPECT_TRUE(done(2) && !failed(2));
}

TEST_F(ForwarderTest, AttemptTimeoutFailsOverInPolicyOrder) {
  auto g = group({"10.0.0.1:53", "10.0.0.2:53", "10.0.0.3:53"});
  ASSERT_EQ(start(1, g, query("www.example.org")), Forwarder::Start::kStarted);
  EXPECT_EQ(sent().upstream, addr("10.0.0.1:53"));
  advance(1999ms);
  EXPECT_TRUE(noneSent());
  advance(1ms);
  auto s = sent();
  EXPECT_EQ(s.upstream, addr("10.0.0.2:53"));
  EXPECT_EQ(g->upstreams[0]->fails.load(), 1u);
  ASSERT_TRUE(transport_.reply(s.conn, test::replyTo(s.wire)));
  pump();
  EXPECT_TRUE(done(1) && !failed(1));
  EXPECT_EQ(g->upstreams[1]->fails.load(), 0u);
}

TEST_F(ForwarderTest, OverallDeadlineEndsTheExchange) {
  auto g = group({"10.0.0.1:53", "10.0.0.2:53", "10.0.0.3:53"}, [](config::ForwardConfig& c) {
    c.attempt_timeout = 2000ms;
    c.overall_timeout = 3000ms;
  });
  ASSERT_EQ(start(1, g, query("www.example.org")), Forwarder::Start::kStarted);
  EXPECT_EQ(sent().upstream, addr("10.0.0.1:53"));
  advance(2000ms);
  EXPECT_EQ(sent().upstream, addr("10.0.0.2:53"));
  advance(999ms);  // the second attempt is cut to the overall deadline
  EXPECT_FALSE(done(1));
  advance(1ms);
  ASSERT_TRUE(failed(1));
  EXPECT_TRUE(noneSent()) << "the third upstream is not tried after the deadline";
  EXPECT_EQ(failures_[1].kind, Kind::kTimeout);
  EXPECT_EQ(failures_[1].describe(), "read udp 10.0.0.2:53: i/o timeout");
}

TEST_F(ForwarderTest, NoAttemptWhenTheDeadlineIsAlreadyOver) {
  auto g = group({"10.0.0.1:53"}, [](config::ForwardConfig& c) { c.overall_timeout = 0ms; });
  start(1, g, query("www.example.org"));
  ASSERT_TRUE(failed(1));
  EXPECT_EQ(failures_[1].kind, Kind::kNone);
  EXPECT_EQ(failures_[1].describe(), "no healthy upstreams");
  EXPECT_EQ(transport_.connections(), 0u);
}

TEST_F(ForwarderTest, AllUpstreamsFailingGivesTheLastFailure) {
  auto g = group({"10.0.0.1:53", "10.0.0.2:53"});
  transport_.refuse(addr("10.0.0.1:53"), false, ScriptedTransport::Refuse::kConnect);
  transport_.refuse(addr("10.0.0.2:53"), false, ScriptedTransport::Refuse::kConnect);
  start(1, g, query("www.example.org"));
  ASSERT_TRUE(failed(1));
  EXPECT_EQ(failures_[1].kind, Kind::kSend);
  EXPECT_EQ(failures_[1].sys_errno, ECONNREFUSED);
  EXPECT_EQ(failures_[1].describe(), "write udp 10.0.0.2:53: connection refused");
  EXPECT_EQ(g->upstreams[0]->fails.load(), 1u);
  EXPECT_EQ(g->upstreams[1]->fails.load(), 1u);
  EXPECT_EQ(g->in_flight.load(), 0u);
}

TEST_F(ForwarderTest, IcmpRefusalIsAReadErrorAndFailsOver) {
  auto g = group({"10.0.0.1:53", "10.0.0.2:53"});
  transport_.refuse(addr("10.0.0.1:53"), false, ScriptedTransport::Refuse::kIcmp);
  transport_.refuse(addr("10.0.0.2:53"), false, ScriptedTransport::Refuse::kIcmp);
  start(1, g, query("www.example.org"));
  for (int i = 0; i < 100 && !done(1); ++i) {  // the ICMP error is queued at send() on loopback
    pump();
  }
  ASSERT_TRUE(failed(1));
  EXPECT_EQ(transport_.connects(addr("10.0.0.1:53"), false), 1u);
  EXPECT_EQ(transport_.connects(addr("10.0.0.2:53"), false), 1u);
  EXPECT_EQ(failures_[1].kind, Kind::kRead);
  EXPECT_EQ(failures_[1].describe(), "read udp 10.0.0.2:53: read: connection refused");
}

TEST_F(ForwarderTest, TcpPipelinesAndMatchesAnswersOutOfOrder) {
  auto g = group({"10.0.0.1:53"}, [](config::ForwardConfig& c) { c.force_tcp = true; });
  const std::vector<std::string> names = {"a.example.org", "b.example.org", "c.example.org"};
  for (uint64_t i = 0; i < names.size(); ++i) {
    ASSERT_EQ(start(i + 1, g, query(names[i])), Forwarder::Start::kStarted);
  }
  auto got = transport_.take();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(transport_.connects(addr("10.0.0.1:53"), true), 1u) << "one connection";
  std::map<uint16_t, uint16_t> ids;
  for (const auto& s : got) {
    EXPECT_TRUE(s.tcp);
    EXPECT_EQ(s.conn, got[0].conn);
    ++ids[idOf(s.wire)];
  }
  EXPECT_EQ(ids.size(), 3u) << "IDs are unique on a connection";
  // Answers in the order 3, 1, 2, two of them in one write.
  Bytes both;
  for (size_t i : {2u, 0u}) {
    Bytes r = test::replyTo(got[i].wire, 0, {aRecord(names[i])});
    both.push_back(static_cast<uint8_t>(r.size() >> 8));
    both.push_back(static_cast<uint8_t>(r.size()));
    both.insert(both.end(), r.begin(), r.end());
  }
  ASSERT_TRUE(transport_.reply(got[0].conn, both, /*raw=*/true));
  pump();
  EXPECT_TRUE(done(3) && done(1));
  EXPECT_FALSE(done(2));
  ASSERT_TRUE(transport_.reply(got[1].conn, test::replyTo(got[1].wire, 0, {aRecord(names[1])})));
  pump();
  for (uint64_t t = 1; t <= 3; ++t) {
    ASSERT_TRUE(done(t) && !failed(t));
    EXPECT_TRUE(dns::sameQuestion(query(names[t - 1]), answers_[t]));
  }
  EXPECT_TRUE(fwd_->hasConnections());
}

TEST_F(ForwarderTest, TcpResetFailsWaitingQueriesOver) {
  auto g =
      group({"10.0.0.1:53", "10.0.0.2:53"}, [](config::ForwardConfig& c) { c.force_tcp = true; });
  start(1, g, query("a.example.org"));
  start(2, g, query("b.example.org"));
  auto got = transport_.take();
  ASSERT_EQ(got.size(), 2u);
  // A late answer of some other query, then the reset.
  ASSERT_TRUE(
      transport_.reply(got[0].conn, test::Msg::replyTo("x.example.org", dns::qtype::kA, 1).wire()));
  transport_.reset(got[0].conn);
  pump();
  auto moved = transport_.take();
  ASSERT_EQ(moved.size(), 2u);
  for (const auto& s : moved) {
    EXPECT_EQ(s.upstream, addr("10.0.0.2:53"));
    EXPECT_TRUE(s.tcp);
    ASSERT_TRUE(transport_.reply(s.conn, test::replyTo(s.wire)));
  }
  pump();
  EXPECT_TRUE(done(1) && !failed(1));
  EXPECT_TRUE(done(2) && !failed(2));
  EXPECT_EQ(g->upstreams[0]->fails.load(), 2u);
  // The failure text of a closed connection.
  auto one = group({"10.0.0.3:53"}, [](config::ForwardConfig& c) { c.force_tcp = true; });
  start(3, one, query("c.example.org"));
  transport_.reset(sent().conn);
  pump();
  ASSERT_TRUE(failed(3));
  EXPECT_EQ(failures_[3].describe(), "read tcp 10.0.0.3:53: connection closed");
}

TEST_F(ForwarderTest, WritingToABrokenConnectionFailsOverAtOnce) {
  auto g =
      group({"10.0.0.1:53", "10.0.0.2:53"}, [](config::ForwardConfig& c) { c.force_tcp = true; });
  start(1, g, query("a.example.org"));
  auto s = sent();
  ASSERT_TRUE(transport_.reply(s.conn, test::replyTo(s.wire)));
  pump();
  ASSERT_TRUE(done(1));
  // The peer goes away; the next query is written before the loop noticed: EPIPE.
  transport_.reset(s.conn);
  ASSERT_EQ(fwd_->start(2, g, query("b.example.org"), true), Forwarder::Start::kStarted);
  pump();
  auto next = sent();
  EXPECT_EQ(next.upstream, addr("10.0.0.2:53"));
  EXPECT_EQ(g->upstreams[0]->fails.load(), 1u);
  // A framed message too short to carry an ID is skipped; the answer after it is taken.
  const uint8_t tiny[] = {0, 1, 0xff};
  ASSERT_TRUE(transport_.reply(next.conn, tiny, /*raw=*/true));
  ASSERT_TRUE(transport_.reply(next.conn, test::replyTo(next.wire)));
  pump();
  EXPECT_TRUE(done(2) && !failed(2));
}

TEST_F(ForwarderTest, MismatchedTcpAnswerFailsTheAttempt) {
  auto g =
      group({"10.0.0.1:53", "10.0.0.2:53"}, [](config::ForwardConfig& c) { c.force_tcp = true; });
  start(1, g, query("a.example.org"));
  auto s = sent();
  ASSERT_TRUE(transport_.reply(
      s.conn, test::Msg::replyTo("other.example.org", dns::qtype::kA, idOf(s.wire)).wire()));
  pump();
  auto next = sent();
  EXPECT_EQ(next.upstream, addr("10.0.0.2:53"));
  transport_.reset(next.conn);
  pump();
  ASSERT_TRUE(failed(1));
  EXPECT_EQ(g->upstreams[0]->fails.load(), 1u);
  // Mismatch text (a single upstream).
  auto one = group({"10.0.0.3:53"}, [](config::ForwardConfig& c) { c.force_tcp = true; });
  start(2, one, query("b.example.org"));
  auto t = sent();
  ASSERT_TRUE(transport_.reply(
      t.conn, test::Msg::replyTo("other.example.org", dns::qtype::kA, idOf(t.wire)).wire()));
  pump();
  ASSERT_TRUE(failed(2));
  EXPECT_EQ(failures_[2].describe(), "read tcp 10.0.0.3:53: answer does not match the question");
}

TEST_F(ForwarderTest, ConnectFailureBacksOffExponentiallyUpToTwoSeconds) {
  auto g = group({"10.0.0.1:53"}, [](config::ForwardConfig& c) { c.force_tcp = true; });
  const SocketAddress up = addr("10.0.0.1:53");
  transport_.refuse(up, true, ScriptedTransport::Refuse::kConnect);
  uint64_t token = 1;
  start(token, g, query("a.example.org"));
  ASSERT_TRUE(failed(token));
  EXPECT_EQ(failures_[token].describe(), "dial tcp 10.0.0.1:53: connect: connection refused");
  EXPECT_EQ(transport_.connects(up, true), 1u);
  // Within the backoff: no connect, failed at once.
  start(++token, g, query("a.example.org"));
  ASSERT_TRUE(failed(token));
  EXPECT_EQ(failures_[token].describe(),
            "dial tcp 10.0.0.1:53: connect: failed (reconnect backoff)");
  EXPECT_EQ(transport_.connects(up, true), 1u);
  size_t connects = 1;
  for (auto delay : {50ms, 100ms, 200ms, 400ms, 800ms, 1600ms, 2000ms, 2000ms}) {
    SCOPED_TRACE(delay.count());
    advance(delay - 1ms);
    start(++token, g, query("a.example.org"));
    EXPECT_EQ(transport_.connects(up, true), connects) << "still backing off";
    advance(1ms);
    start(++token, g, query("a.example.org"));
    EXPECT_EQ(transport_.connects(up, true), ++connects);
  }
  // The upstream comes back: connected, the backoff forgotten.
  transport_.refuse(up, true, ScriptedTransport::Refuse::kNo);
  advance(2000ms);
  start(++token, g, query("a.example.org"));
  auto s = sent();
  ASSERT_TRUE(transport_.reply(s.conn, test::replyTo(s.wire)));
  pump();
  EXPECT_TRUE(done(token) && !failed(token));
  transport_.reset(s.conn);  // closed, and refused again: the backoff starts over at 50 ms
  pump();
  transport_.refuse(up, true, ScriptedTransport::Refuse::kConnect);
  start(++token, g, query("a.example.org"));
  const size_t before = transport_.connects(up, true);
  advance(50ms);
  start(++token, g, query("a.example.org"));
  EXPECT_EQ(transport_.connects(up, true), before + 1);
}

TEST_F(ForwarderTest, AsynchronousConnectFailureIsAConnectError) {
  auto g = group({"10.0.0.1:53"}, [](config::ForwardConfig& c) { c.force_tcp = true; });
  transport_.refuse(addr("10.0.0.1:53"), true, ScriptedTransport::Refuse::kIcmp);
  start(1, g, query("a.example.org"));
  for (int i = 0; i < 100 && !done(1); ++i) {
    pump();
  }
  ASSERT_TRUE(failed(1));
  EXPECT_EQ(failures_[1].kind, Kind::kConnect);
  EXPECT_EQ(failures_[1].describe(), "dial tcp 10.0.0.1:53: connect: connection refused");
  start(2, g, query("a.example.org"));  // backing off
  EXPECT_EQ(transport_.connects(addr("10.0.0.1:53"), true), 1u);
}

TEST_F(ForwarderTest, IdleConnectionsExpire) {
  auto g = group({"10.0.0.1:53"}, [](config::ForwardConfig& c) {
    c.force_tcp = true;
    c.expire = std::chrono::seconds(10);
  });
  net::TcpLimits limits;
  budget_ = std::make_unique<net::TcpBudget>(limits.worker_bytes);
  metrics::TcpStats* stats = registry_.tcp();
  fwd_->setTcpBounds(limits, budget_.get(), stats);
  start(1, g, query("a.example.org"));
  auto s = sent();
  ASSERT_TRUE(transport_.reply(s.conn, test::replyTo(s.wire)));
  pump();
  ASSERT_TRUE(done(1));
  EXPECT_TRUE(fwd_->hasConnections());
  advance(10000ms);
  EXPECT_TRUE(fwd_->hasConnections()) << "idle for exactly `expire`: kept";
  clock_.advance(1ms);
  loop_->refreshNow();
  fwd_->expireIdle();
  pump();
  EXPECT_FALSE(fwd_->hasConnections());
  EXPECT_TRUE(transport_.closedByForwarder(s.conn));
  EXPECT_EQ(stats->closed[1][static_cast<size_t>(metrics::TcpClose::kIdle)].get(), 1u);
  EXPECT_EQ(budget_->used(), 0u);
}

TEST_F(ForwarderTest, AnUpstreamThatDoesNotReadIsFailedOverAndClosedAsStalled) {
  auto g = group({"10.0.0.1:53", "10.0.0.2:53"}, [](config::ForwardConfig& c) {
    c.force_tcp = true;
    c.expire = std::chrono::seconds(10);
    c.attempt_timeout = 60000ms;
    c.overall_timeout = 60000ms;
  });
  net::TcpLimits limits;
  limits.output_high = 4096;
  limits.output_low = 1024;
  budget_ = std::make_unique<net::TcpBudget>(limits.worker_bytes);
  metrics::TcpStats* stats = registry_.tcp();
  fwd_->setTcpBounds(limits, budget_.get(), stats);
  // Fill the socket buffer towards 10.0.0.1 (we never read it), then the queued output.
  uint64_t token = 0;
  const Bytes big = query(std::string(60, 'x') + "." + std::string(60, 'y') + ".example.org");
  for (int i = 0; i < 20000 && transport_.connects(addr("10.0.0.2:53"), true) == 0; ++i) {
    fwd_->start(++token, g, big, true);
    if (i % 64 == 0) {
      pump();
    }
  }
  pump();
  ASSERT_EQ(transport_.connects(addr("10.0.0.2:53"), true), 1u)
      << "above the high watermark a query fails over";
  EXPECT_GE(stats->paused[1][static_cast<size_t>(metrics::TcpPause::kOutput)].get(), 1u);
  EXPECT_EQ(transport_.connects(addr("10.0.0.1:53"), true), 1u);
  advance(10001ms);
  // Both connections stalled (neither peer reads): closed, their queries failed.
  EXPECT_EQ(stats->closed[1][static_cast<size_t>(metrics::TcpClose::kWriteTimeout)].get(), 2u);
  EXPECT_TRUE(transport_.closedByForwarder(0));
  EXPECT_GT(g->upstreams[0]->fails.load(), 1u);
}

TEST_F(ForwarderTest, OverTheWorkersTcpBudgetAQueryFailsOver) {
  auto g =
      group({"10.0.0.1:53", "10.0.0.2:53"}, [](config::ForwardConfig& c) { c.force_tcp = true; });
  net::TcpLimits limits;
  budget_ = std::make_unique<net::TcpBudget>(
      16);  // less than one query: the first is queued, the next refused
  metrics::TcpStats* stats = registry_.tcp();
  fwd_->setTcpBounds(limits, budget_.get(), stats);
  ASSERT_EQ(g->upstreams.size(), 2u);
  // Queue one query before the connection is writable (no pump), so it stays buffered.
  fwd_->start(1, g, query("a.example.org"), true);
  fwd_->start(2, g, query("b.example.org"), true);
  EXPECT_GE(stats->paused[1][static_cast<size_t>(metrics::TcpPause::kMemory)].get(), 1u);
  pump();
  EXPECT_GE(g->upstreams[0]->fails.load() + g->upstreams[1]->fails.load(), 1u);
}

TEST_F(ForwarderTest, MaxConcurrentRejects) {
  auto g = group({"10.0.0.1:53"}, [](config::ForwardConfig& c) { c.max_concurrent = 1; });
  EXPECT_EQ(start(1, g, query("a.example.org")), Forwarder::Start::kStarted);
  EXPECT_EQ(start(2, g, query("b.example.org")), Forwarder::Start::kRejected);
  EXPECT_EQ(registry_.maxConcurrentRejects()[0].get(), 1u);
  EXPECT_FALSE(done(2));
  auto s = sent();
  ASSERT_TRUE(transport_.reply(s.conn, test::replyTo(s.wire)));
  pump();
  EXPECT_EQ(start(3, g, query("c.example.org")), Forwarder::Start::kStarted);
}

TEST_F(ForwarderTest, MaxInFlightOverloads) {
  auto g = group({"10.0.0.1:53"});
  fwd_->setMaxInFlight(1);
  EXPECT_EQ(start(1, g, query("a.example.org")), Forwarder::Start::kStarted);
  EXPECT_EQ(start(2, g, query("b.example.org")), Forwarder::Start::kOverloaded);
  EXPECT_EQ(registry_.inFlightRejects()[0].get(), 1u);
  EXPECT_EQ(g->in_flight.load(), 1u);
}

TEST_F(ForwarderTest, DownUpstreamsAreProbedUntilTheyAnswer) {
  auto g = group({"10.0.0.1:53", "10.0.0.2:53"}, [](config::ForwardConfig& c) {
    c.max_fails = 1;
    c.health_check = 500ms;
  });
  // A group that never marks upstreams down is not probed.
  auto never = group({"10.0.0.9:53"}, [](config::ForwardConfig& c) { c.max_fails = 0; });
  fwd_->setGroups({never});
  EXPECT_FALSE(fwd_->probesConfigured());
  fwd_->setGroups({never, g});
  EXPECT_TRUE(fwd_->probesConfigured());
  EXPECT_FALSE(fwd_->needsTick());
  // Two timeouts on 10.0.0.1 mark it down (fails > max_fails).
  for (uint64_t t = 1; t <= 2; ++t) {
    start(t, g, query("a.example.org"));
    EXPECT_EQ(sent().upstream, addr("10.0.0.1:53"));
    advance(2000ms);
    auto s = sent();
    EXPECT_EQ(s.upstream, addr("10.0.0.2:53"));
    ASSERT_TRUE(transport_.reply(s.conn, test::replyTo(s.wire)));
    pump();
  }
  auto probe = transport_.take();  // the tick after the second failure probed it
  ASSERT_TRUE(g->upstreams[0]->down(1));
  EXPECT_TRUE(fwd_->needsTick());
  // Down upstreams are tried last.
  start(3, g, query("b.example.org"));
  auto s3 = transport_.take();
  if (probe.empty()) {
    advance(0ms);
    probe = transport_.take();
  }
  ASSERT_EQ(probe.size(), 1u);
  EXPECT_EQ(probe[0].upstream, addr("10.0.0.1:53"));
  EXPECT_TRUE(
      dns::sameQuestion(test::Msg().rd().question(".", dns::qtype::kNs).wire(), probe[0].wire));
  ASSERT_EQ(s3.size(), 1u);
  EXPECT_EQ(s3[0].upstream, addr("10.0.0.2:53"));
  // The probe times out (counted), the next one 500 ms after the first.
  advance(2000ms);
  EXPECT_EQ(registry_.upstream("10.0.0.1:53")[0].healthcheck_failures.get(), 1u);
  auto again = transport_.take();
  ASSERT_FALSE(again.empty());
  EXPECT_EQ(again.back().upstream, addr("10.0.0.1:53"));
  // It answers: up again, not reported to done().
  const size_t completions = answers_.size();
  ASSERT_TRUE(transport_.reply(again.back().conn, test::replyTo(again.back().wire)));
  pump();
  EXPECT_FALSE(g->upstreams[0]->down(1));
  EXPECT_EQ(answers_.size(), completions);
  fwd_->setGroups({});
  EXPECT_FALSE(fwd_->probesConfigured());
}

TEST_F(ForwarderTest, AbortAllFailsEveryExchange) {
  auto udp = group({"10.0.0.1:53"});
  auto tcp = group({"10.0.0.2:53"}, [](config::ForwardConfig& c) { c.force_tcp = true; });
  start(1, udp, query("a.example.org"));
  start(2, tcp, query("b.example.org"));
  ASSERT_EQ(transport_.take().size(), 2u);
  fwd_->abortAll();
  pump();
  ASSERT_TRUE(failed(1));
  ASSERT_TRUE(failed(2));
  EXPECT_EQ(failures_[1].kind, Kind::kAborted);
  EXPECT_EQ(failures_[2].describe(), "server shutting down");
  EXPECT_FALSE(fwd_->hasConnections());
  EXPECT_EQ(udp->in_flight.load() + tcp->in_flight.load(), 0u);
  advance(10ms);
}

TEST(FailureDescribe, ReadsLikeCoreDns) {
  Failure f;
  f.upstream = addr("10.96.0.10:53");
  f.kind = Kind::kRead;
  EXPECT_EQ(f.describe(), "read udp 10.96.0.10:53: read: error");
  f.kind = Kind::kSend;
  f.tcp = true;
  EXPECT_EQ(f.describe(), "write tcp 10.96.0.10:53: failed");
  f.kind = static_cast<Kind>(200);
  EXPECT_EQ(f.describe(), "unknown error");
}

}  // namespace
}  // namespace nld::resolver::forward
