#include "resolver/net/event_loop.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <thread>

#include "base/fd.h"

namespace nld::resolver::net {
namespace {

using std::chrono::milliseconds;

TEST(EventLoop, WakesOnlyForTicksAndEvents) {
  // A worker's loop: a 10 ms tick, plus events at other times (here a post() every 3 ms). Over
  // 200 ms that is ~20 ticks and ~67 posts. Truncating the time left to the next tick to whole
  // milliseconds once made epoll_wait(0) spin through the rest of the period whenever an event
  // had woken the loop off the tick's beat: thousands of empty wake-ups a second.
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop) << loop.error().message();
  int ticks = 0;
  std::atomic<int> posts = 0;
  (*loop)->addTick(milliseconds(10), [&] { ++ticks; });
  std::atomic<bool> done = false;
  std::thread poster([&] {
    while (!done) {
      std::this_thread::sleep_for(milliseconds(3));
      (*loop)->post([&] { ++posts; });
    }
  });
  int iterations = 0;
  auto end = MonoClock::now() + milliseconds(200);
  while (MonoClock::now() < end) {
    (*loop)->runOnce(milliseconds(1000));
    ++iterations;
  }
  done = true;
  poster.join();
  EXPECT_GE(ticks, 8);  // 10 on an idle machine; a loaded ctest -j2 has seen 9
  EXPECT_LE(ticks, 21);
  EXPECT_LE(iterations, 2 * (ticks + posts.load()) + 2)
      << "woke up " << iterations << " times for " << ticks << " ticks and " << posts << " posts";
}

TEST(EventLoop, TicksNeverRunEarly) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop) << loop.error().message();
  auto start = MonoClock::now();
  std::vector<MonoClock::duration> at;
  (*loop)->addTick(milliseconds(7), [&] { at.push_back(MonoClock::now() - start); });
  while (at.size() < 5) {
    (*loop)->runOnce(milliseconds(1000));
  }
  for (size_t i = 0; i < at.size(); ++i) {
    EXPECT_GE(at[i], milliseconds(7 * (i + 1))) << "tick " << i;
  }
}

TEST(EventLoop, InactiveTickNeitherRunsNorWakesTheLoop) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop) << loop.error().message();
  bool active = false;
  int ticks = 0;
  (*loop)->addTick(
      milliseconds(5), [&] { ++ticks; }, [&] { return active; });
  auto start = MonoClock::now();
  (*loop)->runOnce(milliseconds(60));  // nothing active: sleeps the whole max_wait
  EXPECT_GE(MonoClock::now() - start, milliseconds(60));
  EXPECT_EQ(ticks, 0);
  active = true;  // overdue now: runs at the next round, then every period
  (*loop)->runOnce(milliseconds(1000));
  EXPECT_EQ(ticks, 1);
  start = MonoClock::now();
  (*loop)->runOnce(milliseconds(1000));
  EXPECT_EQ(ticks, 2);
  EXPECT_LT(MonoClock::now() - start, milliseconds(500));
}

TEST(EventLoop, ForeverWaitsForAPostWithoutATimeout) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop) << loop.error().message();
  std::atomic<bool> ran = false;
  std::thread poster([&] {
    std::this_thread::sleep_for(milliseconds(30));
    (*loop)->post([&] { ran = true; });
  });
  auto start = MonoClock::now();
  (*loop)->runOnce(EventLoop::kForever);  // one call: returns only because of the post
  poster.join();
  EXPECT_TRUE(ran);
  EXPECT_GE(MonoClock::now() - start, milliseconds(25));
}

TEST(EventLoop, PostWakesABlockedLoop) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop) << loop.error().message();
  std::atomic<bool> ran = false;
  std::thread poster([&] {
    std::this_thread::sleep_for(milliseconds(20));
    (*loop)->post([&] { ran = true; });
  });
  auto start = MonoClock::now();
  while (!ran && MonoClock::now() - start < std::chrono::seconds(5)) {
    (*loop)->runOnce(milliseconds(10000));
  }
  poster.join();
  EXPECT_TRUE(ran);
  EXPECT_LT(MonoClock::now() - start, std::chrono::seconds(1));
}

// Virtual time (issue 12): ticks fire from the loop's clock, not from how long epoll waited.
TEST(EventLoopClock, TicksFireFromTheManualClock) {
  ManualClock clock;
  auto loop = EventLoop::create(clock);
  ASSERT_TRUE(loop) << loop.error().message();
  int ticks = 0;
  (*loop)->addTick(std::chrono::seconds(30), [&] { ++ticks; });
  (*loop)->runOnce(milliseconds(0));
  EXPECT_EQ(ticks, 0);
  EXPECT_EQ((*loop)->now(), clock.now());
  clock.advance(std::chrono::seconds(29));
  (*loop)->runOnce(milliseconds(0));
  EXPECT_EQ(ticks, 0);
  clock.advance(std::chrono::seconds(1));
  (*loop)->runOnce(milliseconds(0));
  EXPECT_EQ(ticks, 1);
  EXPECT_EQ((*loop)->now(), clock.now());
  clock.advance(std::chrono::seconds(90));  // a late loop runs a missed tick once, not three times
  (*loop)->runOnce(milliseconds(0));
  EXPECT_EQ(ticks, 2);
}

}  // namespace
}  // namespace nld::resolver::net
