#include "cli/run/http.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace nld::cli {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string httpGet(const SocketAddress& to, const std::string& request) {
  Fd fd(::socket(toAf(to.ip.family()), SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_storage ss{};
  socklen_t len = to.toSockaddr(ss);
  timeval tv{5, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return "connect failed";
  }
  ::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd.get(), buf, sizeof(buf), 0)) > 0) {
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::unique_ptr<HttpServer> makeServer(HttpLimits limits = {}) {
  auto s = HttpServer::create(
      [](const std::string&, const std::string& path) {
        if (path == "/health") {
          return HttpResponse{200, "text/plain", "OK"};
        }
        if (path == "/big") {
          return HttpResponse{200, "text/plain", std::string(size_t{4} << 20, 'x')};
        }
        return HttpResponse{404, "text/plain", "no\n"};
      },
      limits);
  EXPECT_TRUE(s);
  return std::move(*s);
}

TEST(HttpServer, AnswersGetAndHeadAndRejectsOtherMethods) {
  auto server = makeServer();
  ASSERT_TRUE(server->setListeners({SocketAddress{*IpAddress::parse("127.0.0.1"), 0}}));
  auto bound = server->boundAddresses();
  ASSERT_EQ(bound.size(), 1u);
  ASSERT_NE(bound[0].port, 0);

  std::string ok = httpGet(bound[0], "GET /health?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(ok.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << ok;
  EXPECT_NE(ok.find("Content-Length: 2\r\n"), std::string::npos);
  EXPECT_EQ(ok.substr(ok.size() - 2), "OK");

  std::string head = httpGet(bound[0], "HEAD /health HTTP/1.0\r\n\r\n");
  EXPECT_EQ(head.rfind("HTTP/1.0 200", 0), 0u);
  EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n") << head;  // no body

  EXPECT_EQ(httpGet(bound[0], "GET /nope HTTP/1.0\r\n\r\n").rfind("HTTP/1.0 404", 0), 0u);
  EXPECT_EQ(httpGet(bound[0], "POST /health HTTP/1.0\r\n\r\n").rfind("HTTP/1.0 405", 0), 0u);
  EXPECT_EQ(httpGet(bound[0], "garbage\r\n\r\n").rfind("HTTP/1.0 400", 0), 0u);
}

TEST(HttpServer, TwoServersShareOnePortThroughReusePort) {
  auto a = makeServer();
  ASSERT_TRUE(a->setListeners({SocketAddress{*IpAddress::parse("127.0.0.1"), 0}}));
  SocketAddress addr = a->boundAddresses().at(0);
  auto b = makeServer();
  auto r = b->setListeners({addr});
  ASSERT_TRUE(r) << r.error().message();
  a->stop();
  EXPECT_EQ(httpGet(addr, "GET /health HTTP/1.0\r\n\r\n").rfind("HTTP/1.0 200", 0), 0u);
}

TEST(HttpServer, SetListenersKeepsExistingAndReportsBindErrors) {
  auto server = makeServer();
  ASSERT_TRUE(server->setListeners({SocketAddress{*IpAddress::parse("127.0.0.1"), 0}}));
  SocketAddress first = server->boundAddresses().at(0);
  // 192.0.2.1 is not ours: bind fails with EADDRNOTAVAIL; the loopback listener survives.
  auto r = server->setListeners(
      {SocketAddress{*IpAddress::parse("127.0.0.1"), 0}, *SocketAddress::parse("192.0.2.1:80", 0)});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("listen http 192.0.2.1:80"), std::string::npos);
  ASSERT_EQ(server->boundAddresses().size(), 1u);
  EXPECT_EQ(server->boundAddresses()[0], first);
  ASSERT_TRUE(server->setListeners({}));
  EXPECT_TRUE(server->boundAddresses().empty());
  EXPECT_EQ(httpGet(first, "GET /health HTTP/1.0\r\n\r\n"), "connect failed");
}

Fd connectTo(const SocketAddress& to) {
  Fd fd(::socket(toAf(to.ip.family()), SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_storage ss{};
  socklen_t len = to.toSockaddr(ss);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return Fd();
  }
  return fd;
}

void sendText(int fd, std::string_view text) { ::send(fd, text.data(), text.size(), MSG_NOSIGNAL); }

// Reads until EOF or `timeout`. @return what arrived, and whether the server closed.
std::pair<std::string, bool> readUntilClosed(int fd, milliseconds timeout) {
  std::string out;
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(1, left.count()))) <= 0) {
      continue;
    }
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      return {out, true};  // EOF, or a reset of a connection closed with unread bytes
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return {out, false};
}

// Idle clients (connected, silent) and slow ones (a request line, then a header byte every
// 50 ms) hold 100 connections open; /health is still answered at once, every time. The old
// server took one connection at a time with a 2 s read deadline: each idle one in front of the
// probe cost it 2 s.
void healthUnderHeldConnections(const HttpLimits& limits) {
  auto server = makeServer(limits);
  ASSERT_TRUE(server->setListeners({SocketAddress{*IpAddress::parse("127.0.0.1"), 0}}));
  SocketAddress addr = server->boundAddresses().at(0);
  std::vector<Fd> idle, slow;
  for (int i = 0; i < 50; ++i) {
    idle.push_back(connectTo(addr));
    slow.push_back(connectTo(addr));
    ASSERT_TRUE(idle.back() && slow.back());
    sendText(slow.back().get(), "GET /health HTTP/1.1\r\n");
  }
  std::atomic<bool> done{false};
  std::thread dribble([&] {
    while (!done.load()) {
      for (Fd& fd : slow) {
        ::send(fd.get(), "X", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      }
      std::this_thread::sleep_for(milliseconds(50));
    }
  });
  milliseconds worst{0};
  for (int i = 0; i < 50; ++i) {
    auto t0 = Clock::now();
    std::string r = httpGet(addr, "GET /health HTTP/1.1\r\nHost: a\r\n\r\n");
    auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
    worst = std::max(worst, took);
    EXPECT_EQ(r.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << i << ": " << r;
    // A server serving one connection at a time would wait out the held ones' 30 s header
    // timeout; the bound is that, with room for a loaded machine, not a latency target.
    EXPECT_LT(took, milliseconds(10000)) << i;
  }
  done = true;
  dribble.join();
  std::printf("worst /health of 50 with 100 connections held: %lld ms (evicted %llu)\n",
              static_cast<long long>(worst.count()),
              static_cast<unsigned long long>(server->evicted()));
}

TEST(HttpServer, HealthAnswersWhileHundredIdleAndSlowConnectionsAreHeld) {
  HttpLimits limits;
  limits.header_timeout = milliseconds(30000);  // they stay for the whole test
  healthUnderHeldConnections(limits);
}

TEST(HttpServer, AtTheCapTheOldestReadingConnectionMakesRoom) {
  HttpLimits limits;
  limits.max_connections = 64;
  limits.header_timeout = milliseconds(30000);
  auto server = makeServer(limits);
  ASSERT_TRUE(server->setListeners({SocketAddress{*IpAddress::parse("127.0.0.1"), 0}}));
  SocketAddress addr = server->boundAddresses().at(0);
  std::vector<Fd> held;
  for (int i = 0; i < 64; ++i) {
    held.push_back(connectTo(addr));
  }
  // The newest gets through; the first one held is the one closed for it.
  EXPECT_EQ(httpGet(addr, "GET /health HTTP/1.0\r\n\r\n").rfind("HTTP/1.0 200", 0), 0u);
  auto [text, closed] = readUntilClosed(held.front().get(), milliseconds(2000));
  EXPECT_TRUE(closed);
  EXPECT_EQ(text, "");
  EXPECT_GE(server->evicted(), 1u);
  healthUnderHeldConnections(limits);  // 100 held against a cap of 64
}

TEST(HttpServer, OversizedHeadGets431AndTheConnectionCloses) {
  HttpLimits limits;
  limits.max_header_bytes = 1024;
  auto server = makeServer(limits);
  ASSERT_TRUE(server->setListeners({SocketAddress{*IpAddress::parse("127.0.0.1"), 0}}));
  SocketAddress addr = server->boundAddresses().at(0);
  Fd fd = connectTo(addr);
  std::string head = "GET /health HTTP/1.1\r\nX: " + std::string(1200, 'a');  // no end
  ::send(fd.get(), head.data(), head.size(), MSG_NOSIGNAL);
  auto [text, closed] = readUntilClosed(fd.get(), milliseconds(3000));
  EXPECT_TRUE(closed);
  EXPECT_EQ(text.rfind("HTTP/1.0 431", 0), 0u) << text;
  // Just under the cap is fine.
  std::string ok = "GET /health HTTP/1.1\r\nX: " + std::string(900, 'a') + "\r\n\r\n";
  EXPECT_EQ(httpGet(addr, ok).rfind("HTTP/1.0 200", 0), 0u);
}

TEST(HttpServer, HeaderDeadlineClosesIdleAndSlowConnections) {
  HttpLimits limits;
  limits.header_timeout = milliseconds(300);
  auto server = makeServer(limits);
  ASSERT_TRUE(server->setListeners({SocketAddress{*IpAddress::parse("127.0.0.1"), 0}}));
  SocketAddress addr = server->boundAddresses().at(0);
  auto t0 = Clock::now();
  Fd idle = connectTo(addr);
  Fd slow = connectTo(addr);
  // Progress does not extend the deadline: a byte every 50 ms is still cut off at 300 ms.
  std::string text;
  bool closed = false;
  while (!closed && Clock::now() - t0 < milliseconds(5000)) {
    ::send(slow.get(), "G", 1, MSG_NOSIGNAL);
    std::tie(text, closed) = readUntilClosed(slow.get(), milliseconds(50));
  }
  auto took = Clock::now() - t0;
  EXPECT_TRUE(closed);
  EXPECT_EQ(text, "");
  EXPECT_GE(took, milliseconds(250));
  EXPECT_LT(took, milliseconds(3000));
  auto [idle_text, idle_closed] = readUntilClosed(idle.get(), milliseconds(3000));
  EXPECT_TRUE(idle_closed);
  EXPECT_EQ(idle_text, "");
  // The server counts a timeout just after closing the socket: the client may see the close first.
  auto counted_by = Clock::now() + milliseconds(2000);
  while (server->timedOut() < 2u && Clock::now() < counted_by) {
    std::this_thread::yield();
  }
  EXPECT_GE(server->timedOut(), 2u);
}

// A client that asks for a large answer and never reads it holds one slot until the deadline;
// others are served meanwhile (the old server blocked in send() for up to 2 s).
TEST(HttpServer, SlowReaderDoesNotBlockOthers) {
  auto server = makeServer();
  ASSERT_TRUE(server->setListeners({SocketAddress{*IpAddress::parse("127.0.0.1"), 0}}));
  SocketAddress addr = server->boundAddresses().at(0);
  Fd reader = connectTo(addr);
  int small = 4096;
  ::setsockopt(reader.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  sendText(reader.get(), "GET /big HTTP/1.0\r\n\r\n");
  for (int i = 0; i < 5; ++i) {
    auto t0 = Clock::now();
    EXPECT_EQ(httpGet(addr, "GET /health HTTP/1.0\r\n\r\n").rfind("HTTP/1.0 200", 0), 0u);
    EXPECT_LT(Clock::now() - t0, milliseconds(500));
  }
}

}  // namespace
}  // namespace nld::cli
