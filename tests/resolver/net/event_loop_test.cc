#include "resolver/net/event_loop.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/fd.h"

namespace nld::resolver::net {
namespace {

using std::chrono::milliseconds;

TEST(EventLoop, WakesOnlyForTicksAndEvents) {
  // Real epoll (the clock-driven tick count is EventLoopClock.TicksKeepTheirBeatBetweenEvents):
  // a 10 ms tick, plus events at other times (here a post() every 3 ms). Truncating the time
  // left to the next tick to whole milliseconds once made epoll_wait(0) spin through the rest
  // of the period whenever an event had woken the loop off the tick's beat: thousands of empty
  // wake-ups a second. How many ticks fit in 200 ms depends on the machine's load; that the
  // loop wakes only for them and the posts does not.
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
  EXPECT_GE(ticks, 1);
  EXPECT_LE(ticks, 21);
  EXPECT_LE(iterations, 2 * (ticks + posts.load()) + 2)
      << "woke up " << iterations << " times for " << ticks << " ticks and " << posts << " posts";
}

TEST(EventLoopClock, TicksNeverRunEarlyNorLate) {
  ManualClock clock;
  auto loop = EventLoop::create(clock);
  ASSERT_TRUE(loop) << loop.error().message();
  const MonoTime start = clock.now();
  std::vector<MonoClock::duration> at;
  (*loop)->addTick(milliseconds(7), [&] { at.push_back(clock.now() - start); });
  for (int ms = 0; ms < 36; ++ms) {
    (*loop)->runOnce(milliseconds(0));
    clock.advance(milliseconds(1));
  }
  ASSERT_EQ(at.size(), 5u);
  for (size_t i = 0; i < at.size(); ++i) {
    EXPECT_EQ(at[i], milliseconds(7 * (i + 1))) << "tick " << i;
  }
}

TEST(EventLoopClock, TicksKeepTheirBeatBetweenEvents) {
  // WakesOnlyForTicksAndEvents' timing half: events every 3 ms between the 10 ms ticks do not
  // move them: 200 ms are 20 ticks.
  ManualClock clock;
  auto loop = EventLoop::create(clock);
  ASSERT_TRUE(loop) << loop.error().message();
  int ticks = 0;
  int posts = 0;
  (*loop)->addTick(milliseconds(10), [&] { ++ticks; });
  const MonoTime end = clock.now() + milliseconds(200);
  while (clock.now() < end) {
    clock.advance(milliseconds(1));
    if ((clock.now().time_since_epoch() / milliseconds(1)) % 3 == 0) {
      (*loop)->post([&] { ++posts; });
    }
    (*loop)->runOnce(milliseconds(0));
  }
  EXPECT_EQ(ticks, 20);
  EXPECT_GE(posts, 66);
}

TEST(EventLoopClock, InactiveTickDoesNotRunUntilActiveThenKeepsItsPeriod) {
  ManualClock clock;
  auto loop = EventLoop::create(clock);
  ASSERT_TRUE(loop) << loop.error().message();
  bool active = false;
  int ticks = 0;
  (*loop)->addTick(
      milliseconds(5), [&] { ++ticks; }, [&] { return active; });
  clock.advance(milliseconds(60));
  (*loop)->runOnce(milliseconds(0));
  EXPECT_EQ(ticks, 0);
  active = true;  // overdue now: runs at the next round, then every period
  (*loop)->runOnce(milliseconds(0));
  EXPECT_EQ(ticks, 1);
  clock.advance(milliseconds(4));
  (*loop)->runOnce(milliseconds(0));
  EXPECT_EQ(ticks, 1);
  clock.advance(milliseconds(1));
  (*loop)->runOnce(milliseconds(0));
  EXPECT_EQ(ticks, 2);
}

TEST(EventLoop, InactiveTickDoesNotWakeTheLoop) {
  // Real epoll: with no active tick the wait is max_wait (a lower bound: cannot flake on a
  // loaded machine); once active and overdue the loop does not wait for it.
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
  active = true;
  start = MonoClock::now();
  (*loop)->runOnce(milliseconds(10000));
  EXPECT_EQ(ticks, 1);
  EXPECT_LT(MonoClock::now() - start, milliseconds(5000));
}

TEST(EventLoop, ForeverWaitsForAPostWithoutATimeout) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop) << loop.error().message();
  std::atomic<bool> ran = false;
  auto start = MonoClock::now();  // before the poster starts: it posts 30 ms or more after this
  std::thread poster([&] {
    std::this_thread::sleep_for(milliseconds(30));
    (*loop)->post([&] { ran = true; });
  });
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

// deferDelete(): one rule for ending a handler (issue 12).
struct Counted {
  explicit Counted(int& destroyed) : destroyed_(destroyed) {}
  ~Counted() { ++destroyed_; }
  int& destroyed_;
};

struct PipeHandler final : IoHandler {
  PipeHandler(EventLoop& loop, int& destroyed) : loop_(loop), destroyed_(destroyed) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
      rd.reset(fds[0]);
      wr.reset(fds[1]);
    }
  }
  ~PipeHandler() {
    loop_.remove(rd.get());  // the loop is still usable while it destroys what was deferred
    ++destroyed_;
  }
  bool armReadable() {
    return rd && loop_.add(rd.get(), EPOLLIN, this) && ::write(wr.get(), "x", 1) == 1;
  }
  void onIo(uint32_t) noexcept override {
    ++calls;
    if (on_io) {
      on_io();
    }
  }
  EventLoop& loop_;
  int& destroyed_;
  Fd rd, wr;
  int calls = 0;
  std::function<void()> on_io;
};

TEST(EventLoopDefer, AHandlerDeferringAnotherWithAnEventInTheSameRound) {
  // Both are readable in one epoll_wait() batch; whichever runs first ends the other. The other
  // is not called, stays alive through the round (tasks, ticks) and is destroyed once after it.
  auto l = EventLoop::create();
  ASSERT_TRUE(l) << l.error().message();
  EventLoop& loop = **l;
  int destroyed[2] = {0, 0};
  std::unique_ptr<PipeHandler> h[2] = {std::make_unique<PipeHandler>(loop, destroyed[0]),
                                       std::make_unique<PipeHandler>(loop, destroyed[1])};
  PipeHandler* raw[2] = {h[0].get(), h[1].get()};
  int victim = -1;
  for (int i = 0; i < 2; ++i) {
    raw[i]->on_io = [&, i] {
      EXPECT_NE(i, victim) << "called after deferDelete()";
      if (victim < 0) {
        victim = 1 - i;
        loop.remove(raw[victim]->rd.get());
        loop.deferDelete(std::move(h[victim]));
        EXPECT_EQ(destroyed[victim], 0) << "destroyed inside the round";
      }
    };
    ASSERT_TRUE(raw[i]->armReadable());
  }
  int alive_in_tick = -1;
  bool posted_ran = false;
  loop.post([&] {
    posted_ran = true;
    EXPECT_EQ(destroyed[victim], 0) << "destroyed before the round's posted tasks";
  });
  loop.addTick(milliseconds(0), [&] {
    if (alive_in_tick < 0 && victim >= 0) {
      alive_in_tick = destroyed[victim] == 0 ? 1 : 0;
    }
  });
  loop.runOnce(milliseconds(1000));
  ASSERT_EQ(loop.lastEvents(), 3);  // both pipes and the post's eventfd: one batch
  ASSERT_GE(victim, 0);
  EXPECT_TRUE(posted_ran);
  EXPECT_EQ(alive_in_tick, 1) << "destroyed before the round's ticks";
  EXPECT_EQ(raw[1 - victim]->calls, 1);
  EXPECT_EQ(destroyed[victim], 1);
  EXPECT_EQ(destroyed[1 - victim], 0);
  loop.runOnce(milliseconds(0));
  EXPECT_EQ(destroyed[victim], 1);  // once
}

TEST(EventLoopDefer, AHandlerDeferringItself) {
  auto l = EventLoop::create();
  ASSERT_TRUE(l) << l.error().message();
  EventLoop& loop = **l;
  int destroyed = 0;
  auto h = std::make_unique<PipeHandler>(loop, destroyed);
  PipeHandler* raw = h.get();
  raw->on_io = [&] {
    loop.remove(raw->rd.get());
    loop.deferDelete(std::move(h));
    raw->calls += 10;  // still alive: the rest of its onIo() may use it
  };
  ASSERT_TRUE(raw->armReadable());
  loop.runOnce(milliseconds(1000));
  EXPECT_EQ(destroyed, 1);
}

TEST(EventLoopDefer, FromAPostedTaskAndFromATickAfterTheRestOfTheRound) {
  ManualClock clock;
  auto l = EventLoop::create(clock);
  ASSERT_TRUE(l) << l.error().message();
  EventLoop& loop = **l;
  int from_task = 0;
  int from_tick = 0;
  int seen_by_tick = -1;
  loop.post([&] { loop.deferDelete(std::make_unique<Counted>(from_task)); });
  loop.addTick(milliseconds(10), [&] {
    seen_by_tick = from_task;  // the task ran earlier in this round: not destroyed yet
    loop.deferDelete(std::make_unique<Counted>(from_tick));
    EXPECT_EQ(from_tick, 0);
  });
  clock.advance(milliseconds(10));
  loop.runOnce(milliseconds(1000));
  EXPECT_EQ(seen_by_tick, 0);
  EXPECT_EQ(from_task, 1);
  EXPECT_EQ(from_tick, 1);
  loop.runOnce(milliseconds(0));
  EXPECT_EQ(from_task, 1);
  EXPECT_EQ(from_tick, 1);
}

TEST(EventLoopDefer, AnyTypeAndNestedDeferralsAreDestroyedInTheSameRound) {
  auto l = EventLoop::create();
  ASSERT_TRUE(l) << l.error().message();
  EventLoop& loop = **l;
  int inner = 0;
  struct Outer {
    EventLoop& loop;
    int& inner;
    ~Outer() { loop.deferDelete(std::make_unique<Counted>(inner)); }
  };
  loop.post([&] {
    loop.deferDelete(std::unique_ptr<Outer>(new Outer{loop, inner}));
    loop.deferDelete(std::make_unique<std::string>(1000, 'x'));
    loop.deferDelete(std::unique_ptr<Counted>());  // null: nothing to do
  });
  loop.runOnce(milliseconds(1000));
  EXPECT_EQ(inner, 1);
}

TEST(EventLoopDefer, DestroyingTheLoopDestroysWhatIsDeferred) {
  int destroyed = 0;
  int handler_destroyed = 0;
  {
    auto l = EventLoop::create();
    ASSERT_TRUE(l) << l.error().message();
    EventLoop& loop = **l;
    loop.deferDelete(std::make_unique<Counted>(destroyed));           // outside any round
    auto h = std::make_unique<PipeHandler>(loop, handler_destroyed);  // removes its fd then
    ASSERT_TRUE(h->armReadable());
    loop.deferDelete(std::move(h));
    EXPECT_EQ(destroyed, 0);
    EXPECT_EQ(handler_destroyed, 0);
  }
  EXPECT_EQ(destroyed, 1);
  EXPECT_EQ(handler_destroyed, 1);
}

}  // namespace
}  // namespace nld::resolver::net
