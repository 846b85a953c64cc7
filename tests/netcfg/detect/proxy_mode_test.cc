// kube-proxy mode detection: each signal alone in its own network namespace, then precedence.
// The /proxyMode endpoint is a loopback HTTP responder thread on port 0, started AFTER entering
// the namespace (unshare needs a single-threaded process).
#include "netcfg/detect/proxy_mode.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <string>
#include <thread>

#include "base/fd.h"
#include "tests/support/netns.h"

namespace nld::netcfg {
namespace {

using test::run;

// Answers up to one HTTP request on 127.0.0.1:<port> with `response` (raw bytes), then exits.
class HttpResponder {
 public:
  // keep_open: after answering, hold the connection until the client closes it (a server that
  // ignores "Connection: close"); the client must stop at Content-Length.
  explicit HttpResponder(std::string response, bool keep_open = false)
      : response_(std::move(response)), keep_open_(keep_open) {
    listener_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    ok_ = listener_ && ::bind(listener_.get(), reinterpret_cast<sockaddr*>(&sa), len) == 0 &&
          ::listen(listener_.get(), 4) == 0 &&
          ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&sa), &len) == 0;
    port_ = ntohs(sa.sin_port);
    if (ok_) {
      thread_ = std::thread([this] { serveOne(); });
    }
  }
  ~HttpResponder() { join(); }
  void join() {
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  bool ok() const { return ok_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  uint16_t port() const { return port_; }
  const std::string& request() const { return request_; }  // valid after join()

 private:
  void serveOne() {
    pollfd p{listener_.get(), POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) {
      return;  // the code under test never connected: the test's assertions say so
    }
    Fd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) {
      return;
    }
    char buf[1024];
    while (request_.find("\r\n\r\n") == std::string::npos) {
      p = {conn.get(), POLLIN, 0};
      if (::poll(&p, 1, 5000) != 1) {
        return;
      }
      ssize_t n = ::recv(conn.get(), buf, sizeof(buf), 0);
      if (n <= 0) {
        return;
      }
      request_.append(buf, static_cast<size_t>(n));
    }
    ::send(conn.get(), response_.data(), response_.size(), MSG_NOSIGNAL);
    while (keep_open_) {
      p = {conn.get(), POLLIN, 0};
      if (::poll(&p, 1, 5000) != 1 || ::recv(conn.get(), buf, sizeof(buf), 0) <= 0) {
        break;
      }
    }
  }

  std::string response_;
  bool keep_open_ = false;
  Fd listener_;
  bool ok_ = false;
  uint16_t port_ = 0;
  std::string request_;
  std::thread thread_;
};

std::string ok200(const std::string& body) {
  return "HTTP/1.0 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Points /proxyMode at a port nobody listens on (in a fresh namespace nothing does).
ProxyModeOptions noEndpoint() {
  ProxyModeOptions o;
  o.metrics_address = "127.0.0.1:10249";
  return o;
}

void sh(const std::string& cmd) {
  auto r = run(cmd);
  ASSERT_EQ(r.exit_code, 0) << cmd << ": " << r.out;
}

TEST(ProxyModeNetns, EndpointAnswersEachMode) {
  NLD_ENTER_NETNS();
  for (auto [body, mode] :
       {std::pair{"iptables", ProxyMode::kIptables}, std::pair{"ipvs", ProxyMode::kIpvs},
        std::pair{"nftables", ProxyMode::kNftables}}) {
    SCOPED_TRACE(body);
    Result<ProxyModeDetection> d = fail(Errc::kInternal, "not run");
    std::string addr;
    {
      HttpResponder http(ok200(body));
      ASSERT_TRUE(http.ok());
      addr = http.address();
      ProxyModeOptions o;
      o.metrics_address = addr;
      d = detectProxyMode(o);
    }
    ASSERT_TRUE(d) << d.error().message();
    EXPECT_EQ(d->mode, mode);
    EXPECT_EQ(d->signal, "kube-proxy /proxyMode at " + addr + " answered '" + body + "'");
  }
}

TEST(ProxyModeNetns, EndpointSendsAPlainGet) {
  NLD_ENTER_NETNS();
  HttpResponder http(ok200("ipvs\n"));  // a trailing newline is tolerated
  ASSERT_TRUE(http.ok());
  ProxyModeOptions o;
  o.metrics_address = http.address();
  auto d = detectProxyMode(o);
  http.join();
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->mode, ProxyMode::kIpvs);
  EXPECT_EQ(d->signal, "kube-proxy /proxyMode at " + http.address() + " answered 'ipvs'");
  EXPECT_EQ(http.request().rfind("GET /proxyMode HTTP/1.0\r\nHost: " + http.address() + "\r\n", 0),
            0u)
      << http.request();
}

TEST(ProxyModeNetns, StopsAtContentLengthWhenTheServerKeepsTheConnection) {
  NLD_ENTER_NETNS();
  HttpResponder http("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nnftables", true);
  ASSERT_TRUE(http.ok());
  ProxyModeOptions o;
  o.metrics_address = http.address();
  o.timeout = std::chrono::milliseconds(3000);
  auto start = std::chrono::steady_clock::now();
  auto d = detectProxyMode(o);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->mode, ProxyMode::kNftables);
  EXPECT_LT(took, std::chrono::milliseconds(1000)) << "waited for EOF instead of the length";
}

TEST(ProxyModeNetns, AcceptsLocalhostAndUrlForms) {
  NLD_ENTER_NETNS();
  for (std::string form : {"localhost:", "http://127.0.0.1:", "http://localhost:"}) {
    SCOPED_TRACE(form);
    HttpResponder http(ok200("ipvs"));
    ASSERT_TRUE(http.ok());
    ProxyModeOptions o;
    o.metrics_address = form + std::to_string(http.port()) + (form[0] == 'h' ? "/" : "");
    auto d = detectProxyMode(o);
    ASSERT_TRUE(d) << d.error().message();
    EXPECT_EQ(d->mode, ProxyMode::kIpvs);
    EXPECT_EQ(d->signal, "kube-proxy /proxyMode at " + http.address() + " answered 'ipvs'");
  }
}

TEST(ProxyModeNetns, UnknownAnswerIsAnErrorNotAFallthrough) {
  NLD_ENTER_NETNS();
  sh("iptables-legacy -t nat -N KUBE-SERVICES");  // would decide "iptables" if we fell through
  HttpResponder http(ok200("kernelspace"));
  ASSERT_TRUE(http.ok());
  ProxyModeOptions o;
  o.metrics_address = http.address();
  auto d = detectProxyMode(o);
  ASSERT_FALSE(d) << "decided " << toString(d->mode) << " by " << d->signal;
  EXPECT_EQ(d.error().code(), Errc::kParse);
  EXPECT_EQ(d.error().message(), "kube-proxy /proxyMode at " + http.address() +
                                     " answered 'kernelspace', expected iptables, ipvs or "
                                     "nftables; pass the mode explicitly");
}

TEST(ProxyModeNetns, Non200IsAnError) {
  NLD_ENTER_NETNS();
  HttpResponder http("HTTP/1.0 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found");
  ASSERT_TRUE(http.ok());
  ProxyModeOptions o;
  o.metrics_address = http.address();
  auto d = detectProxyMode(o);
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message().find("answered HTTP 404"), std::string::npos)
      << d.error().message();
}

TEST(ProxyModeNetns, GarbageIsAnError) {
  NLD_ENTER_NETNS();
  HttpResponder http("SSH-2.0-OpenSSH\r\n\r\n");
  ASSERT_TRUE(http.ok());
  ProxyModeOptions o;
  o.metrics_address = http.address();
  auto d = detectProxyMode(o);
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message().find("not an HTTP response"), std::string::npos)
      << d.error().message();
}

TEST(ProxyModeNetns, SilentListenerTimesOutAndFallsThrough) {
  NLD_ENTER_NETNS();
  // Listening but never accepting: the kernel completes the handshake, nobody answers.
  Fd l(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(sa);
  ASSERT_EQ(::bind(l.get(), reinterpret_cast<sockaddr*>(&sa), len), 0);
  ASSERT_EQ(::listen(l.get(), 4), 0);
  ASSERT_EQ(::getsockname(l.get(), reinterpret_cast<sockaddr*>(&sa), &len), 0);
  ProxyModeOptions o;
  o.metrics_address = "127.0.0.1:" + std::to_string(ntohs(sa.sin_port));
  o.timeout = std::chrono::milliseconds(200);
  auto start = std::chrono::steady_clock::now();
  auto d = detectProxyMode(o);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->mode, ProxyMode::kIptables);
  EXPECT_NE(d->signal.find("no complete answer within 200 ms"), std::string::npos) << d->signal;
  EXPECT_GE(took, std::chrono::milliseconds(200));
  EXPECT_LT(took, std::chrono::milliseconds(1500));
}

TEST(ProxyModeNetns, IpvsLink) {
  NLD_ENTER_NETNS();
  sh("ip link add kube-ipvs0 type bridge");
  auto d = detectProxyMode(noEndpoint());
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->mode, ProxyMode::kIpvs);
  EXPECT_EQ(d->signal, "link 'kube-ipvs0' exists (kind bridge)");
}

TEST(ProxyModeNetns, NftablesTable) {
  NLD_ENTER_NETNS();
  sh("nft add table ip kube-proxy");
  auto d = detectProxyMode(noEndpoint());
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->mode, ProxyMode::kNftables);
  EXPECT_EQ(d->signal, "nftables table 'ip kube-proxy' exists");
}

TEST(ProxyModeNetns, OtherNftablesTablesDoNotCount) {
  NLD_ENTER_NETNS();
  sh("nft add table ip6 kube-proxy");  // only `ip kube-proxy` is the signal
  sh("nft add table ip kube-proxy2");
  auto d = detectProxyMode(noEndpoint());
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->mode, ProxyMode::kIptables);
  EXPECT_EQ(d->signal.rfind("default:", 0), 0u) << d->signal;
}

TEST(ProxyModeNetns, LegacyKubeServicesChain) {
  NLD_ENTER_NETNS();
  sh("iptables-legacy -t nat -N KUBE-SERVICES");
  auto d = detectProxyMode(noEndpoint());
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->mode, ProxyMode::kIptables);
  EXPECT_EQ(d->signal, "chain KUBE-SERVICES exists in the legacy iptables nat table");
}

TEST(ProxyModeNetns, IptablesNftKubeServicesChain) {
  NLD_ENTER_NETNS();
  sh("nft add table ip nat");
  sh("nft add chain ip nat KUBE-SERVICES");
  auto d = detectProxyMode(noEndpoint());
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->mode, ProxyMode::kIptables);
  EXPECT_EQ(d->signal, "chain KUBE-SERVICES exists in nftables table 'ip nat' (iptables-nft)");
}

TEST(ProxyModeNetns, NothingMeansIptablesByDefault) {
  NLD_ENTER_NETNS();
  auto d = detectProxyMode(noEndpoint());
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->mode, ProxyMode::kIptables);
  EXPECT_EQ(d->signal,
            "default: no kube-proxy signal found (kube-proxy /proxyMode at 127.0.0.1:10249: "
            "Connection refused; no link 'kube-ipvs0'; no nftables table 'ip kube-proxy'; no "
            "chain KUBE-SERVICES in the legacy nat table; no chain KUBE-SERVICES in nftables "
            "table 'ip nat')");
}

TEST(ProxyModeNetns, EndpointBeatsEveryArtifact) {
  NLD_ENTER_NETNS();
  sh("iptables-legacy -t nat -N KUBE-SERVICES");
  sh("nft add table ip kube-proxy");
  HttpResponder http(ok200("ipvs"));
  ASSERT_TRUE(http.ok());
  ProxyModeOptions o;
  o.metrics_address = http.address();
  auto d = detectProxyMode(o);
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->mode, ProxyMode::kIpvs);
  EXPECT_NE(d->signal.find("/proxyMode"), std::string::npos);
}

TEST(ProxyModeNetns, IpvsLinkBeatsNftablesAndChain) {
  NLD_ENTER_NETNS();
  sh("ip link add kube-ipvs0 type bridge");
  sh("nft add table ip kube-proxy");
  sh("iptables-legacy -t nat -N KUBE-SERVICES");
  auto d = detectProxyMode(noEndpoint());
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->mode, ProxyMode::kIpvs);
}

TEST(ProxyModeNetns, NftablesTableBeatsKubeServicesChain) {
  NLD_ENTER_NETNS();
  sh("nft add table ip kube-proxy");
  sh("iptables-legacy -t nat -N KUBE-SERVICES");  // a leftover from iptables mode
  auto d = detectProxyMode(noEndpoint());
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->mode, ProxyMode::kNftables);
}

TEST(ProxyModeNetns, CustomIpvsLinkName) {
  NLD_ENTER_NETNS();
  sh("ip link add ipvs-lb type bridge");
  auto o = noEndpoint();
  o.ipvs_link = "ipvs-lb";
  auto d = detectProxyMode(o);
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->mode, ProxyMode::kIpvs);
  EXPECT_NE(d->signal.find("'ipvs-lb'"), std::string::npos);
}

}  // namespace
}  // namespace nld::netcfg
