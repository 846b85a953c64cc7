// The whole UDP cache-hit path of a running Server — receive, parse, route, cache scope, cache,
// CoreDNS metrics (sizes, DO, durations), answer — allocates nothing on the worker threads, with
// `errors` and `prometheus` configured as in node-local-dns's Corefile. Counted by replacing
// operator new in this test binary (its own executable: the replacement is process-wide) and
// attributing allocations to threads named "nld-worker-*".
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "tests/resolver/server/e2e_support.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
namespace {
std::atomic<bool> g_counting{false};
std::atomic<size_t> g_worker_allocs{0};
}  // namespace

// A sanitizer runtime defines operator new itself (NLD_SANITIZED): no counting there.
#ifndef NLD_SANITIZED
void* operator new(size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) {
    char name[16] = {};
    if (::prctl(PR_GET_NAME, name) == 0 && std::strncmp(name, "nld-worker", 10) == 0) {
      g_worker_allocs.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) {
    return p;
  }
  throw std::bad_alloc();
}
void* operator new[](size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
#endif

namespace nld::test {
namespace {

/// Sends `q` to 127.0.0.1:53 and waits for the answer's rcode (-1: none within 3 s).
int ask(int fd, const std::vector<uint8_t>& q) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(53);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::sendto(fd, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  pollfd p{fd, POLLIN, 0};
  uint8_t buf[1500];
  if (::poll(&p, 1, 3000) > 0 && ::recv(fd, buf, sizeof buf, 0) >= 12) {
    return buf[3] & 0x0f;
  }
  return -1;
}

// Both ways a worker waits: epoll_wait() (the library's default) and blocked in recvmmsg()
// after one UDP-only round (kEager; the daemon's --udp-wait auto gets there after 16).
void expectHitsAllocateNothing(resolver::UdpWait wait) {
#ifdef NLD_SANITIZED
  GTEST_SKIP() << "the sanitizer runtime replaces operator new; allocations are not counted";
#endif
  TempDir dir;
  Nsd nsd(dir);
  ASSERT_TRUE(nsd.ok()) << nsd.error();
  resolver::ServerOptions opts;
  opts.udp_wait = wait;
  auto server = startServer(
      "cluster.local:53 {\n    errors\n    cache {\n        success 9984 30\n"
      "        denial 9984 5\n    }\n    bind 127.0.0.1\n    forward . 127.0.0.2:5300\n"
      "    prometheus :9253\n}\n",
      2, opts);
  ASSERT_NE(server, nullptr);
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  const std::vector<std::string> names = {"svc1.default.svc.cluster.local.",
                                          "nope.default.svc.cluster.local.",
                                          "alias.default.svc.cluster.local."};
  for (const auto& n : names) {  // warm (the miss path allocates: not counted)
    for (bool d : {false, true}) {
      ASSERT_GE(ask(fd, wireQuery(1, n, 1, d)), 0) << n;
    }
  }
  g_worker_allocs = 0;
  g_counting = true;
  int answered = 0;
  for (int i = 0; i < 600; ++i) {
    answered +=
        ask(fd, wireQuery(static_cast<uint16_t>(i), names[i % 3], 1, i % 2 == 1)) >= 0 ? 1 : 0;
  }
  g_counting = false;
  ::close(fd);
  EXPECT_EQ(answered, 600);
  EXPECT_EQ(g_worker_allocs.load(), 0u);
  std::string m = server->renderMetrics();
  EXPECT_NE(m.find("coredns_dns_do_requests_total{server=\"dns://127.0.0.1:53\","
                   "zone=\"cluster.local.\",view=\"\"} 303"),
            std::string::npos);
}

TEST(ServerHitPath, UdpCacheHitsAllocateNothingOnWorkers) {
  NLD_ENTER_NETNS();
  expectHitsAllocateNothing(resolver::UdpWait::kEpoll);
}

TEST(ServerHitPath, UdpCacheHitsAllocateNothingOnBlockedWorkers) {
  NLD_ENTER_NETNS();
  expectHitsAllocateNothing(resolver::UdpWait::kEager);
}

}  // namespace
}  // namespace nld::test
