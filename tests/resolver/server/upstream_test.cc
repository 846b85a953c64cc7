#include "resolver/forward/upstream.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace nld::resolver::forward {
namespace {

std::vector<int> order(config::Policy p, std::vector<bool> down, uint64_t seed, uint32_t rr) {
  bool d[16];
  for (size_t i = 0; i < down.size(); ++i) {
    d[i] = down[i];
  }
  uint8_t out[16];
  size_t n = selectOrder(p, std::span<const bool>(d, down.size()), seed, rr, out);
  return std::vector<int>(out, out + n);
}

TEST(SelectOrder, SequentialKeepsConfigOrder) {
  EXPECT_EQ(order(config::Policy::kSequential, {false, false, false}, 7, 0),
            (std::vector<int>{0, 1, 2}));
}

TEST(SelectOrder, SequentialPutsDownUpstreamsLast) {
  EXPECT_EQ(order(config::Policy::kSequential, {true, false, false}, 7, 0),
            (std::vector<int>{1, 2, 0}));
}

TEST(SelectOrder, AllDownStillTriesEveryUpstream) {
  EXPECT_EQ(order(config::Policy::kSequential, {true, true}, 0, 0), (std::vector<int>{0, 1}));
}

TEST(SelectOrder, RoundRobinRotates) {
  EXPECT_EQ(order(config::Policy::kRoundRobin, {false, false, false}, 0, 0),
            (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(order(config::Policy::kRoundRobin, {false, false, false}, 0, 1),
            (std::vector<int>{1, 2, 0}));
  EXPECT_EQ(order(config::Policy::kRoundRobin, {false, false, false}, 0, 5),
            (std::vector<int>{2, 0, 1}));
}

TEST(SelectOrder, RandomIsAPermutationAndSpreadsTheFirstChoice) {
  std::set<int> firsts;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    auto o = order(config::Policy::kRandom, {false, false, false, false}, seed * 7919, 0);
    ASSERT_EQ(o.size(), 4u);
    EXPECT_EQ(std::set<int>(o.begin(), o.end()).size(), 4u);
    firsts.insert(o[0]);
  }
  EXPECT_EQ(firsts.size(), 4u);
}

TEST(UpstreamState, DownAfterMoreThanMaxFails) {
  UpstreamState u(SocketAddress{*IpAddress::parse("10.0.0.1"), 53});
  EXPECT_EQ(u.label, "10.0.0.1:53");
  u.onFailure();
  u.onFailure();
  EXPECT_FALSE(u.down(2));
  u.onFailure();
  EXPECT_TRUE(u.down(2));
  EXPECT_FALSE(u.down(0));  // max_fails 0: never down
  u.onAnswer(1);
  EXPECT_FALSE(u.down(2));
}

}  // namespace
}  // namespace nld::resolver::forward
