// The forwarder's completion discipline (issue 12): done() never runs inside the start() that
// began the exchange, even when every attempt fails at once; it runs on the next loop round,
// exactly once. The transport is a fake whose every connect fails immediately.
#include <gtest/gtest.h>

#include <cerrno>
#include <memory>
#include <vector>

#include "resolver/dns/builder.h"
#include "resolver/forward/forwarder.h"
#include "resolver/net/clock.h"

namespace nld::resolver::forward {
namespace {

using std::chrono::milliseconds;

class FailingTransport final : public UpstreamTransport {
 public:
  std::optional<Fd> connectUdp(const SocketAddress&) noexcept override {
    ++udp_connects;
    errno = ECONNREFUSED;
    return std::nullopt;
  }
  std::optional<Fd> connectTcp(const SocketAddress&) noexcept override {
    ++tcp_connects;
    errno = ENETUNREACH;
    return std::nullopt;
  }
  int udp_connects = 0;
  int tcp_connects = 0;
};

struct Done {
  uint64_t token;
  size_t answer_size;
  Failure failure;
};

class Completion : public ::testing::TestWithParam<bool> {  // param: force_tcp
 protected:
  void SetUp() override {
    auto l = net::EventLoop::create(clock_);
    ASSERT_TRUE(l) << l.error().message();
    loop_ = std::move(*l);
    forwarder_ = std::make_unique<Forwarder>(
        *loop_,
        [this](uint64_t token, std::span<const uint8_t> answer) {
          EXPECT_FALSE(in_start_) << "done() ran inside start()";
          done_.push_back(Done{token, answer.size(), forwarder_->lastFailure()});
        },
        registry_, 0, false, transport_);
    group_ = std::make_shared<ForwardGroup>();
    group_->config.force_tcp = GetParam();
    group_->config.policy = config::Policy::kSequential;
    for (const char* to : {"192.0.2.1:53", "192.0.2.2:53"}) {
      auto addr = SocketAddress::parse(to, 53);
      ASSERT_TRUE(addr);
      group_->config.to.push_back(*addr);
      group_->upstreams.push_back(std::make_shared<UpstreamState>(*addr));
    }
    query_len_ =
        dns::buildQuery(0x1234, dns::flag::kRd, ".", dns::qtype::kNs, dns::qclass::kIn, query_);
    ASSERT_GT(query_len_, 0u);
  }
  void TearDown() override {
    forwarder_.reset();
    loop_.reset();
  }

  Forwarder::Start start(uint64_t token) {
    in_start_ = true;
    auto started =
        forwarder_->start(token, group_, std::span<const uint8_t>(query_, query_len_), false);
    in_start_ = false;
    return started;
  }

  net::ManualClock clock_;
  metrics::Registry registry_{1};
  FailingTransport transport_;
  std::unique_ptr<net::EventLoop> loop_;
  std::unique_ptr<Forwarder> forwarder_;
  std::shared_ptr<ForwardGroup> group_;
  uint8_t query_[512];
  size_t query_len_ = 0;
  bool in_start_ = false;
  std::vector<Done> done_;
};

TEST_P(Completion, EveryConnectFailingAtOnceCompletesOnTheNextRoundOnce) {
  ASSERT_EQ(start(7), Forwarder::Start::kStarted);
  EXPECT_TRUE(done_.empty()) << "completed inside start()";
  EXPECT_EQ(transport_.udp_connects + transport_.tcp_connects, 2);  // both upstreams tried
  EXPECT_EQ(group_->in_flight.load(), 0u);  // the exchange is over, only its report waits
  loop_->runOnce(milliseconds(0));
  ASSERT_EQ(done_.size(), 1u);
  EXPECT_EQ(done_[0].token, 7u);
  EXPECT_EQ(done_[0].answer_size, 0u);
  EXPECT_EQ(done_[0].failure.tcp, GetParam());
  if (GetParam()) {
    EXPECT_EQ(done_[0].failure.kind, Failure::Kind::kConnect);
    EXPECT_EQ(done_[0].failure.sys_errno, ENETUNREACH);
  } else {
    EXPECT_EQ(done_[0].failure.kind, Failure::Kind::kSend);
    EXPECT_EQ(done_[0].failure.sys_errno, ECONNREFUSED);
  }
  EXPECT_EQ(done_[0].failure.upstream.toString(), "192.0.2.2:53");
  for (int i = 0; i < 3; ++i) {
    clock_.advance(std::chrono::seconds(10));  // past every deadline: nothing more to report
    loop_->runOnce(milliseconds(0));
  }
  forwarder_->tick();
  EXPECT_EQ(done_.size(), 1u);
}

TEST_P(Completion, EachQueuedFailureKeepsItsOwnReason) {
  ASSERT_EQ(start(1), Forwarder::Start::kStarted);
  ASSERT_EQ(start(2), Forwarder::Start::kStarted);
  EXPECT_TRUE(done_.empty());
  loop_->runOnce(milliseconds(0));
  ASSERT_EQ(done_.size(), 2u);
  EXPECT_EQ(done_[0].token, 1u);
  EXPECT_EQ(done_[1].token, 2u);
}

TEST_P(Completion, AStartFromInsideDoneIsReportedOnTheFollowingRound) {
  bool restarted = false;
  // A forwarder's ticks stay registered with its loop (they end with the loop): the replacement
  // gets a loop of its own, or the next round would call the destroyed one's tick (TSan found it).
  forwarder_.reset();
  auto l = net::EventLoop::create(clock_);
  ASSERT_TRUE(l) << l.error().message();
  loop_ = std::move(*l);
  forwarder_ = std::make_unique<Forwarder>(
      *loop_,
      [&](uint64_t token, std::span<const uint8_t>) {
        done_.push_back(Done{token, 0, forwarder_->lastFailure()});
        if (!restarted) {
          restarted = true;
          EXPECT_EQ(start(2), Forwarder::Start::kStarted);
          EXPECT_EQ(done_.size(), 1u);
        }
      },
      registry_, 0, false, transport_);
  ASSERT_EQ(start(1), Forwarder::Start::kStarted);
  loop_->runOnce(milliseconds(0));
  ASSERT_EQ(done_.size(), 1u);
  loop_->runOnce(milliseconds(0));
  ASSERT_EQ(done_.size(), 2u);
  EXPECT_EQ(done_[1].token, 2u);
}

TEST_P(Completion, AbortAllReportsWhatIsQueued) {
  ASSERT_EQ(start(3), Forwarder::Start::kStarted);
  forwarder_->abortAll();
  ASSERT_EQ(done_.size(), 1u);
  EXPECT_NE(done_[0].failure.kind, Failure::Kind::kAborted);  // failed before the abort
  loop_->runOnce(milliseconds(0));
  EXPECT_EQ(done_.size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Transports, Completion, ::testing::Bool(),
                         [](const auto& p) { return p.param ? "Tcp" : "Udp"; });

}  // namespace
}  // namespace nld::resolver::forward
