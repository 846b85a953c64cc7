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

// Blocking mode: a UDP socket on loopback the test reads in a blocking recv().
struct BlockingUdp final : IoHandler {
  Fd fd;
  sockaddr_in addr{};
  std::atomic<int> reads = 0;     // read() calls
  std::atomic<int> received = 0;  // datagrams
  void onIo(uint32_t) noexcept override {}
  static std::unique_ptr<BlockingUdp> open(EventLoop& loop) {
    auto u = std::make_unique<BlockingUdp>();
    u->fd.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));  // blocking
    u->addr.sin_family = AF_INET;
    u->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof u->addr;
    if (::bind(u->fd.get(), reinterpret_cast<sockaddr*>(&u->addr), len) != 0 ||
        ::getsockname(u->fd.get(), reinterpret_cast<sockaddr*>(&u->addr), &len) != 0 ||
        !loop.add(u->fd.get(), EPOLLIN, u.get())) {
      return nullptr;
    }
    return u;
  }
  // What a worker passes to runBlocking(): one blocking read; false when interrupted.
  // Like the worker: the syscall bracketed by enterRead()/leaveRead(), the time refreshed only
  // after a successful read.
  bool read(EventLoop& loop) {
    ++reads;
    if (!loop.enterRead()) {
      return false;
    }
    char buf[64];
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    loop.leaveRead();
    if (n < 0) {
      return false;
    }
    loop.refreshNow();
    ++received;
    return true;
  }
  void send(int count) const {
    Fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    for (int i = 0; i < count; ++i) {
      ::sendto(s.get(), "x", 1, 0, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    }
  }
};

struct Blocking : ::testing::Test {
  void SetUp() override {
    auto l = EventLoop::create();
    ASSERT_TRUE(l) << l.error().message();
    loop = std::move(*l);
    udp = BlockingUdp::open(*loop);
    ASSERT_TRUE(udp);
  }
  // Runs blocking mode on the test thread; returns how long it took.
  milliseconds runBlocking() {
    auto start = MonoClock::now();
    EXPECT_TRUE(
        loop->runBlocking(udp->fd.get(), EPOLLIN, udp.get(), [this] { return udp->read(*loop); }));
    return std::chrono::duration_cast<milliseconds>(MonoClock::now() - start);
  }
  std::unique_ptr<EventLoop> loop;
  std::unique_ptr<BlockingUdp> udp;
};

TEST_F(Blocking, ReadsUntilAPostArrivesThenTheLoopRunsIt) {
  bool ran = false;
  auto start = MonoClock::now();
  std::thread other([&] {
    udp->send(50);
    std::this_thread::sleep_for(milliseconds(50));
    loop->post([&] { ran = true; });
  });
  runBlocking();
  auto took = MonoClock::now() - start;
  other.join();
  EXPECT_EQ(udp->received.load(), 50);  // served while blocked, no epoll_wait in between
  EXPECT_GE(took, milliseconds(50));
  EXPECT_LT(took, milliseconds(2000));
  EXPECT_FALSE(ran);  // runBlocking() dispatches nothing...
  loop->runOnce(milliseconds(1000));
  EXPECT_TRUE(ran);  // ...the next round does
}

TEST_F(Blocking, AnotherReadyFdEndsIt) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK), 0);
  Fd rd(pipe_fds[0]), wr(pipe_fds[1]);
  struct Handler final : IoHandler {
    int calls = 0;
    void onIo(uint32_t) noexcept override { ++calls; }
  } handler;
  ASSERT_TRUE(loop->add(rd.get(), EPOLLIN, &handler));
  std::thread other([&] {
    std::this_thread::sleep_for(milliseconds(30));
    [[maybe_unused]] auto n = ::write(wr.get(), "x", 1);
  });
  auto took = runBlocking();
  other.join();
  EXPECT_LT(took, milliseconds(2000));
  EXPECT_EQ(udp->reads.load(), 1);  // one read, interrupted
  loop->runOnce(milliseconds(1000));
  EXPECT_EQ(handler.calls, 1);
  loop->remove(rd.get());
}

TEST_F(Blocking, TheSocketIsWatchedAgainAfterwards) {
  std::thread other([&] {
    std::this_thread::sleep_for(milliseconds(20));
    loop->post([] {});
  });
  runBlocking();
  other.join();
  loop->runOnce(milliseconds(1000));  // the post
  udp->send(1);
  loop->runOnce(milliseconds(2000));
  EXPECT_EQ(loop->lastEvents(), 1);  // the UDP socket is back in the epoll set
}

TEST_F(Blocking, ADueTickEndsItAndRunsOnTime) {
  // One datagram early in the spell, then silence until the tick is due: the watcher's timeout
  // ends the spell. The next round must run the tick then, not one period later (the time the
  // loop last saw was the datagram's).
  MonoTime ran_at{};
  loop->addTick(milliseconds(200), [&] { ran_at = MonoClock::now(); });
  auto start = MonoClock::now();
  std::thread other([&] {
    std::this_thread::sleep_for(milliseconds(20));
    udp->send(1);
  });
  runBlocking();
  other.join();
  auto left = MonoClock::now() - start;
  EXPECT_EQ(udp->received.load(), 1);
  EXPECT_GE(left, milliseconds(190));
  EXPECT_LT(left, milliseconds(1000));
  loop->runOnce(milliseconds(5000));
  ASSERT_NE(ran_at, MonoTime{});
  EXPECT_LT(ran_at - start, milliseconds(300)) << "the tick ran a period late";
}

TEST_F(Blocking, TheSignalOnlyInterruptsTheRead) {
  // read() sleeps after each datagram (as a worker may block writing a log line): the post that
  // arrives meanwhile must not cut that sleep short, only the next blocking read.
  std::atomic<int> cut_short = 0;
  std::thread other([&] {
    udp->send(1);
    std::this_thread::sleep_for(milliseconds(10));
    loop->post([] {});
  });
  EXPECT_TRUE(loop->runBlocking(udp->fd.get(), EPOLLIN, udp.get(), [&] {
    if (!udp->read(*loop)) {
      return false;
    }
    timespec ts{0, 50 * 1000 * 1000};
    if (::nanosleep(&ts, nullptr) != 0) {
      ++cut_short;
    }
    return true;
  }));
  other.join();
  EXPECT_EQ(cut_short.load(), 0);
  EXPECT_EQ(udp->received.load(), 1);
}

TEST_F(Blocking, ATickThatBecomesActiveDuringAReadEndsIt) {
  // The forwarder's tick turns active when a cache miss goes upstream from inside read(): the
  // watcher was told "no deadline", so the reader itself must notice and return.
  bool active = false;
  loop->addTick(
      milliseconds(10), [] {}, [&] { return active; });
  std::thread other([&] { udp->send(1); });
  auto start = MonoClock::now();
  EXPECT_TRUE(loop->runBlocking(udp->fd.get(), EPOLLIN, udp.get(), [&] {
    bool ok = udp->read(*loop);
    active = true;
    return ok;
  }));
  other.join();
  EXPECT_LT(MonoClock::now() - start, milliseconds(1000));
  EXPECT_EQ(udp->reads.load(), 1);
}

TEST_F(Blocking, IdleStaysAsleep) {
  std::thread other([&] {
    std::this_thread::sleep_for(milliseconds(150));
    loop->post([] {});
  });
  runBlocking();
  other.join();
  EXPECT_EQ(udp->reads.load(), 1);  // no timeouts, no spurious returns in 150 ms
}

TEST_F(Blocking, EveryInterruptArrivesEvenRightAtTheStart) {
  // The signal may land just before the reader enters recv() (then it is lost): the watcher
  // re-sends until the reader has left. 300 spells, each interrupted as early as possible.
  for (int i = 0; i < 300; ++i) {
    std::thread other([&] { loop->post([] {}); });
    auto took = runBlocking();
    other.join();
    ASSERT_LT(took, milliseconds(1000)) << "spell " << i;
    loop->runOnce(milliseconds(1000));
  }
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
