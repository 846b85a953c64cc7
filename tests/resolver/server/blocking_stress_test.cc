// Stress of the blocking-read mode (net/blocking_read.h), built to run under ThreadSanitizer too
// (label tsan). Everything on one CPU (the test pins itself before any thread exists, so the
// workers, their watchers, the upstream and the clients all inherit it): the reader, the watcher
// and the threads that make work for them preempt each other at every point of the protocol.
// Many UDP clients (hits and misses), TCP clients, and a thread forcing interrupts (reloads and
// health probes: posts to every worker) while the workers block in recvmmsg() after every
// UDP-only round (UdpWait::kEager). Each client has one query outstanding and waits for its
// answer, so when the last clients wait on misses or TCP nothing else wakes a worker that missed
// its interrupt. Asserted: every query answered (a generous per-query deadline, no timings), no
// signal seen by any other thread, both workers still block afterwards, and shutdown completes.
// SIGURG is not blocked anywhere here.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/syscall.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "resolver/config/config.h"
#include "resolver/resolver.h"
#include "tests/resolver/server/blocking_support.h"
#include "tests/resolver/server/e2e_support.h"

namespace nld::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

/// Pins the calling thread (and so every thread it creates later) to one CPU of its mask.
std::string pinToOneCpu() {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (::sched_getaffinity(0, sizeof mask, &mask) != 0) {
    return std::string("sched_getaffinity: ") + std::strerror(errno);
  }
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &mask)) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpu, &one);
      if (::sched_setaffinity(0, sizeof one, &one) != 0) {
        return std::string("sched_setaffinity: ") + std::strerror(errno);
      }
      return "";
    }
  }
  return "no CPU in the affinity mask";
}

TEST(BlockingStress, EveryQueryIsAnsweredOnOneCpuUnderForcedInterrupts) {
  NLD_ENTER_NETNS();
  if (auto why = pinToOneCpu(); !why.empty()) {
    GTEST_SKIP() << "cannot pin to one CPU: " << why;
  }
  FakeUpstream up;
  ASSERT_TRUE(up.ok());
  resolver::ServerOptions opts;
  opts.udp_wait = resolver::UdpWait::kEager;
  auto server = startServer(kBlockingCorefile, 2, opts);
  ASSERT_NE(server, nullptr);
  constexpr int kHotNames = 16;
  {
    UdpClient warm;
    for (int i = 0; i < kHotNames; ++i) {
      ASSERT_EQ(warm.ask(wireQuery(1, "hot" + std::to_string(i) + ".example.org"), seconds(10)), 0);
    }
  }

  constexpr int kUdpClients = 12, kUdpQueries = 1000;  // every 4th a miss
  constexpr int kTcpClients = 3, kTcpQueries = 150;    // a connection each, every 2nd a miss
  constexpr milliseconds kDeadline{20000};             // per query; TSan on one CPU is slow
  std::atomic<int> unanswered = 0, answered = 0, eintr = 0;
  std::atomic<int> clients_left = kUdpClients + kTcpClients;
  std::vector<std::thread> threads;
  for (int c = 0; c < kUdpClients; ++c) {
    threads.emplace_back([&, c] {
      UdpClient client;
      for (int i = 0; i < kUdpQueries; ++i) {
        std::string name = i % 4 == 3 ? "u" + std::to_string(c) + "-" + std::to_string(i)
                                      : "hot" + std::to_string((c + i) % kHotNames);
        int rc =
            client.ask(wireQuery(static_cast<uint16_t>(i + 1), name + ".example.org"), kDeadline);
        ++(rc == 0 ? answered : unanswered);
      }
      eintr += client.eintr();
      --clients_left;
    });
  }
  for (int c = 0; c < kTcpClients; ++c) {
    threads.emplace_back([&, c] {
      int e = 0;
      for (int i = 0; i < kTcpQueries; ++i) {
        std::string name = i % 2 == 1 ? "t" + std::to_string(c) + "-" + std::to_string(i)
                                      : "hot" + std::to_string(i % kHotNames);
        int rc =
            tcpAsk(wireQuery(static_cast<uint16_t>(i + 1), name + ".example.org"), kDeadline, &e);
        ++(rc == 0 ? answered : unanswered);
      }
      eintr += e;
      --clients_left;
    });
  }
  // Forced interrupts: a reload (a post to each worker) and a health probe, back to back, while
  // any client runs; and a look at whether the workers did block in recvmmsg() meanwhile.
  int reloads = 0, reload_failures = 0, probes = 0, probe_failures = 0, seen_blocked = 0;
  while (clients_left.load() > 0) {
    auto cfg = resolver::config::parseCorefile(kBlockingCorefile, "Corefile");
    ASSERT_TRUE(cfg);
    ++(server->reload(std::move(*cfg)) ? reloads : reload_failures);
    ++(server->probe(seconds(10)) ? probes : probe_failures);
    for (const char* w : {"nld-worker-0", "nld-worker-1"}) {
      seen_blocked += threadSyscall(w) == SYS_recvmmsg ? 1 : 0;
    }
    std::this_thread::yield();
  }
  for (auto& t : threads) {
    t.join();
  }
  const int total = kUdpClients * kUdpQueries + kTcpClients * kTcpQueries;
  EXPECT_EQ(unanswered.load(), 0) << "of " << total;
  EXPECT_EQ(answered.load(), total);
  EXPECT_EQ(eintr.load(), 0) << "SIGURG reached a thread other than a worker";
  EXPECT_EQ(reload_failures, 0);
  EXPECT_GT(reloads, 0);
  EXPECT_EQ(probe_failures, 0);
  // Both workers still block (none fell back to epoll for good); how often the sampler above
  // caught one in recvmmsg() is only reported.
  for (const char* w : {"nld-worker-0", "nld-worker-1"}) {
    EXPECT_TRUE(waitBlockedInRecvmmsg(w, "hot0.example.org", seconds(30))) << w;
  }
  RecordProperty("reloads", reloads);
  RecordProperty("probes", probes);
  RecordProperty("seen_blocked", seen_blocked);
  server->stop(seconds(2));  // joins the workers (a hang here is a stall: ctest's timeout)
}

}  // namespace
}  // namespace nld::test
