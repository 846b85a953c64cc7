// End to end, the worker blocked in recvmmsg() (UdpWait::kEager, net/blocking_read.h): what must
// keep working while it sleeps there — hits, a miss whose upstream answer arrives meanwhile, TCP,
// a reload, stopAccepting() and shutdown — each started only once /proc shows the worker thread
// in recvmmsg(). This binary, like an embedding program that knows nothing of the mode, does not
// block SIGURG in its other threads: none of them may see the signal (no EINTR anywhere).
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "resolver/config/config.h"
#include "resolver/resolver.h"
#include "tests/resolver/server/blocking_support.h"
#include "tests/resolver/server/e2e_support.h"

namespace nld::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kWorker = "nld-worker-0";
constexpr milliseconds kAnswer{5000};  // generous: a stalled answer waits forever

struct BlockedWorker : ::testing::Test {
  void SetUp() override {
    NLD_ENTER_NETNS();
    up = std::make_unique<FakeUpstream>();
    client = std::make_unique<UdpClient>();  // a socket of the test's namespace
    ASSERT_TRUE(up->ok());
    resolver::ServerOptions opts;
    opts.udp_wait = resolver::UdpWait::kEager;
    server = startServer(kBlockingCorefile, 1, opts);
    ASSERT_NE(server, nullptr);
    ASSERT_EQ(client->ask(wireQuery(1, "hit.example.org"), kAnswer), 0);  // cached from now on
    ASSERT_EQ(up->queries(), 1u);
  }
  void TearDown() override {
    if (client) {
      EXPECT_EQ(client->eintr(), 0) << "SIGURG reached a thread other than the worker";
    }
  }
  /// Puts the worker to sleep in recvmmsg() (a hit, then a look at /proc).
  void block() {
    ASSERT_TRUE(waitBlockedInRecvmmsg(kWorker, "hit.example.org", seconds(10)))
        << "the worker never blocked in recvmmsg()";
  }

  std::unique_ptr<FakeUpstream> up;
  std::unique_ptr<resolver::Server> server;
  std::unique_ptr<UdpClient> client;
};

TEST_F(BlockedWorker, AnswersHitsAndInstalledTheHandler) {
  EXPECT_TRUE(sigurgHandlerInstalled());
  block();
  for (int i = 0; i < 300; ++i) {
    ASSERT_EQ(client->ask(wireQuery(static_cast<uint16_t>(100 + i), "hit.example.org"), kAnswer), 0)
        << "query " << i;
  }
  EXPECT_EQ(up->queries(), 1u);  // all from the cache
  block();                       // and back to sleep after them
}

TEST_F(BlockedWorker, AnswersAMissWhoseUpstreamAnswerArrivesWhileBlocked) {
  up->hold();
  std::atomic<int> rcode = -2;
  std::thread miss([&] {
    UdpClient c;
    rcode = c.ask(wireQuery(7, "miss.example.org"), seconds(20));
  });
  ASSERT_TRUE(up->waitQueries(2, seconds(5)));
  block();  // the miss is in flight; hits put the worker back in recvmmsg()
  up->release();
  miss.join();
  EXPECT_EQ(rcode.load(), 0);
  EXPECT_EQ(client->ask(wireQuery(8, "miss.example.org"), kAnswer), 0);  // now a hit
  EXPECT_EQ(up->queries(), 2u);
}

TEST_F(BlockedWorker, AnswersTcpWhileBlocked) {
  int eintr = 0;
  for (int i = 0; i < 20; ++i) {
    block();
    ASSERT_EQ(tcpAsk(wireQuery(static_cast<uint16_t>(200 + i), "hit.example.org"), kAnswer, &eintr),
              0)
        << "connection " << i;
  }
  block();
  EXPECT_EQ(tcpAsk(wireQuery(300, "tcp-miss.example.org"), kAnswer, &eintr), 0);
  EXPECT_EQ(eintr, 0);
  EXPECT_EQ(client->ask(wireQuery(301, "hit.example.org"), kAnswer), 0);
}

TEST_F(BlockedWorker, TakesAReloadWhileBlocked) {
  block();
  // Without `cache`, the same name goes upstream: the new snapshot is in use.
  auto cfg = resolver::config::parseCorefile(
      "example.org:53 {\n    bind 127.0.0.1\n    forward . 127.0.0.3:5300\n}\n", "Corefile");
  ASSERT_TRUE(cfg) << cfg.error().message();
  ASSERT_TRUE(server->reload(std::move(*cfg)));
  const size_t before = up->queries();
  auto deadline = std::chrono::steady_clock::now() + seconds(10);
  uint16_t id = 400;
  while (up->queries() == before && std::chrono::steady_clock::now() < deadline) {
    ASSERT_EQ(client->ask(wireQuery(id++, "hit.example.org"), kAnswer), 0);
  }
  EXPECT_GT(up->queries(), before) << "the reload never reached the worker";
}

TEST_F(BlockedWorker, StopAcceptingClosesTheBlockedListener) {
  block();
  server->stopAccepting();
  // Had the worker slept through the post, its socket would still be open and this answered.
  EXPECT_EQ(client->ask(wireQuery(500, "hit.example.org"), milliseconds(500)), -1);
  EXPECT_EQ(tcpAsk(wireQuery(501, "hit.example.org"), milliseconds(500)), -1);
}

TEST_F(BlockedWorker, StopsWhileBlocked) {
  block();
  server->stop(seconds(1));  // joins the worker thread: hangs (ctest timeout) if it sleeps on
  server.reset();
  SUCCEED();
}

TEST_F(BlockedWorker, OtherThreadsOfTheProgramNeverSeeTheSignal) {
  // A thread of the embedding program, SIGURG not blocked, sleeping in short nanosleep()s while
  // the worker's spells are interrupted over and over (a TCP query each): not one EINTR.
  std::atomic<bool> done = false;
  std::atomic<int> interrupted = 0;
  std::thread sleeper([&] {
    while (!done) {
      timespec ts{0, 200 * 1000};
      if (::nanosleep(&ts, nullptr) != 0) {
        ++interrupted;
      }
    }
  });
  int eintr = 0;
  for (int i = 0; i < 50; ++i) {
    block();
    ASSERT_EQ(tcpAsk(wireQuery(static_cast<uint16_t>(600 + i), "hit.example.org"), kAnswer, &eintr),
              0);
  }
  done = true;
  sleeper.join();
  EXPECT_EQ(interrupted.load(), 0);
  EXPECT_EQ(eintr, 0);
}

TEST(DefaultServer, WaitsInEpollAndLeavesSigurgAlone) {
  NLD_ENTER_NETNS();
  if (sigurgHandlerInstalled()) {
    GTEST_SKIP() << "an earlier test in this process installed the handler";
  }
  FakeUpstream up;
  ASSERT_TRUE(up.ok());
  auto server = startServer(kBlockingCorefile, 1);  // ServerOptions{}: UdpWait::kEpoll
  ASSERT_NE(server, nullptr);
  UdpClient client;
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(client.ask(wireQuery(static_cast<uint16_t>(i), "hit.example.org"), kAnswer), 0);
    EXPECT_NE(threadSyscall(kWorker), SYS_recvmmsg);
  }
  EXPECT_FALSE(sigurgHandlerInstalled());
}

}  // namespace
}  // namespace nld::test
