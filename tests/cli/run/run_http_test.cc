#include "cli/run_http.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

namespace nld::cli {
namespace {

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

std::unique_ptr<HttpServer> makeServer() {
  auto s = HttpServer::create([](const std::string&, const std::string& path) {
    if (path == "/health") {
      return HttpResponse{200, "text/plain", "OK"};
    }
    return HttpResponse{404, "text/plain", "no\n"};
  });
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

}  // namespace
}  // namespace nld::cli
