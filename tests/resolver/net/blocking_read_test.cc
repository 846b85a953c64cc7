// BlockingRead (blocking_read.h): one loop's reader blocked in recv() on a loopback UDP socket,
// interrupted by the watcher for posts, other fds and ticks.
#include "resolver/net/blocking_read.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <memory>
#include <thread>

#include "base/fd.h"
#include "resolver/net/event_loop.h"

namespace nld::resolver::net {
namespace {

using std::chrono::milliseconds;

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
  // What a worker passes to BlockingRead::run(): one blocking read; false when interrupted.
  // Like the worker: the syscall bracketed by enterRead()/leaveRead(), the time refreshed only
  // after a successful read.
  bool read(EventLoop& loop, BlockingRead& br) {
    ++reads;
    if (!br.enterRead()) {
      return false;
    }
    char buf[64];
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    br.leaveRead();
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
    auto b = BlockingRead::create(*loop);
    ASSERT_TRUE(b) << b.error().message();
    blocking = std::move(*b);
  }
  // Runs blocking mode on the test thread; returns how long it took.
  milliseconds runBlocking() {
    auto start = MonoClock::now();
    EXPECT_TRUE(blocking->run(udp->fd.get(), EPOLLIN, udp.get(),
                              [this] { return udp->read(*loop, *blocking); }));
    return std::chrono::duration_cast<milliseconds>(MonoClock::now() - start);
  }
  std::unique_ptr<EventLoop> loop;
  std::unique_ptr<BlockingUdp> udp;
  std::unique_ptr<BlockingRead> blocking;  // last: destroyed before the loop
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
  EXPECT_FALSE(ran);  // run() dispatches nothing...
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
  EXPECT_TRUE(blocking->run(udp->fd.get(), EPOLLIN, udp.get(), [&] {
    if (!udp->read(*loop, *blocking)) {
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
  EXPECT_TRUE(blocking->run(udp->fd.get(), EPOLLIN, udp.get(), [&] {
    bool ok = udp->read(*loop, *blocking);
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

// The process side (ctest runs each TEST in its own process, so each starts without a handler).
bool wakeHandlerInstalled() {
  struct sigaction sa {};
  ::sigaction(BlockingRead::wakeSignal(), nullptr, &sa);
  return (sa.sa_flags & SA_SIGINFO) != 0 || (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN);
}

TEST(BlockingReadProcess, TheHandlerComesWithTheFirstBlockingRead) {
  if (wakeHandlerInstalled()) {
    GTEST_SKIP() << "an earlier test in this process installed it";
  }
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop) << loop.error().message();
  EXPECT_FALSE(wakeHandlerInstalled()) << "a loop alone must not touch SIGURG";
  auto b = BlockingRead::create(**loop);
  ASSERT_TRUE(b) << b.error().message();
  EXPECT_TRUE(wakeHandlerInstalled());
}

void programsOwnHandler(int) {}

TEST(BlockingReadProcess, LeavesAProgramsOwnHandlerAlone) {
  if (wakeHandlerInstalled()) {
    GTEST_SKIP() << "an earlier test in this process installed it";
  }
  struct sigaction own {};
  own.sa_handler = programsOwnHandler;
  sigemptyset(&own.sa_mask);
  ASSERT_EQ(::sigaction(SIGURG, &own, nullptr), 0);
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop) << loop.error().message();
  auto b = BlockingRead::create(**loop);
  ASSERT_FALSE(b);  // the caller stays in epoll mode
  EXPECT_NE(b.error().message().find("handler of the program's own"), std::string::npos)
      << b.error().message();
  struct sigaction now {};
  ::sigaction(SIGURG, nullptr, &now);
  EXPECT_EQ(now.sa_handler, &programsOwnHandler);
  // Once the program lets go of it, the next create() installs ours.
  own.sa_handler = SIG_DFL;
  ASSERT_EQ(::sigaction(SIGURG, &own, nullptr), 0);
  auto again = BlockingRead::create(**loop);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_TRUE(wakeHandlerInstalled());
}

TEST_F(Blocking, TheHandlerIsHarmlessOnAnyOtherThread) {
  // A program that does not block SIGURG in its threads and gets one anyway (ours only ever go
  // to a reader): the handler does nothing, errno included.
  std::thread other([] {
    errno = 1234;
    ::raise(SIGURG);
    EXPECT_EQ(errno, 1234);
    timespec ts{0, 1000 * 1000};
    EXPECT_EQ(::nanosleep(&ts, nullptr), 0);
  });
  other.join();
  errno = 4321;
  ::raise(SIGURG);  // the reader itself, outside a read (as a late signal lands)
  EXPECT_EQ(errno, 4321);
  // And the next spell is not cut short by it: a post ends it, after the datagrams.
  std::thread poster([&] {
    udp->send(3);
    std::this_thread::sleep_for(milliseconds(20));
    loop->post([] {});
  });
  runBlocking();
  poster.join();
  EXPECT_EQ(udp->received.load(), 3);
}

}  // namespace
}  // namespace nld::resolver::net
