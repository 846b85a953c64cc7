#include "cli/run/flags.h"

#include <gtest/gtest.h>

#include "cli/run/daemon.h"

namespace nld::cli {
namespace {

using std::chrono::milliseconds;
using Args = std::vector<std::string>;

TEST(TranslateRunArgs, AddsDashToNodeCacheFlagsAfterRun) {
  Args in = {"nodelocaldns", "--log-level",
             "debug",        "run",
             "-localip",     "169.254.20.10,10.96.0.10",
             "-conf",        "/etc/Corefile",
             "-upstreamsvc", "kube-dns-upstream",
             "-pidfile",     "/tmp/node-cache.pid"};
  Args want = {"nodelocaldns",  "--log-level",
               "debug",         "run",
               "--localip",     "169.254.20.10,10.96.0.10",
               "--conf",        "/etc/Corefile",
               "--upstreamsvc", "kube-dns-upstream",
               "--pidfile",     "/tmp/node-cache.pid"};
  EXPECT_EQ(translateRunArgs(in), want);
}

TEST(TranslateRunArgs, HandlesGoBoolsEqualsAndValuesThatLookLikeFlags) {
  Args in = {"x",
             "run",
             "-setupiptables=false",
             "-skipteardown",
             "-health-port",
             "8080",
             "-dns.port=5353",
             "-conf",
             "-localip",
             "--workers",
             "2",
             "-p",
             "-pidfile"};
  // "-localip" after -conf is -conf's value (Go would take it too), "-pidfile" is -p's value.
  Args want = {"x",
               "run",
               "--setupiptables=false",
               "--skipteardown",
               "--health-port",
               "8080",
               "--dns.port=5353",
               "--conf",
               "-localip",
               "--workers",
               "2",
               "-p",
               "-pidfile"};
  EXPECT_EQ(translateRunArgs(in), want);
}

TEST(TranslateRunArgs, LeavesOtherSubcommandsAndUnknownFlagsAlone) {
  Args other = {"x", "install", "-localip", "1.2.3.4"};
  EXPECT_EQ(translateRunArgs(other), other);
  Args unknown = {"x", "run", "-bogus", "-h", "--", "-localip"};
  EXPECT_EQ(translateRunArgs(unknown), unknown);
}

TEST(ParseSyncInterval, AcceptsWhatUsersMean) {
  EXPECT_EQ(*parseSyncInterval("60"), milliseconds(60000));
  EXPECT_EQ(*parseSyncInterval("60s"), milliseconds(60000));
  EXPECT_EQ(*parseSyncInterval("1m"), milliseconds(60000));
  EXPECT_EQ(*parseSyncInterval("1m30s"), milliseconds(90000));
  EXPECT_EQ(*parseSyncInterval("1.5s"), milliseconds(1500));
  EXPECT_EQ(*parseSyncInterval("500ms"), milliseconds(500));
  // node-cache's documented workaround: 30ns meant 30 s (kubernetes/dns#362).
  EXPECT_EQ(*parseSyncInterval("30ns"), milliseconds(30000));
  EXPECT_EQ(*parseSyncInterval("2h"), milliseconds(7200000));
}

TEST(ParseSyncInterval, RejectsNonsenseWithTheFlagName) {
  for (const char* bad : {"", "0", "10ms", "abc", "5x", "-5s", "25h", "1.2.3s", "9999999"}) {
    auto r = parseSyncInterval(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), Errc::kInvalidArgument);
    EXPECT_NE(r.error().message().find("-syncinterval"), std::string::npos) << r.error().message();
  }
}

TEST(ParseGoDuration, MatchesGo) {
  EXPECT_EQ(parseGoDuration("1h2m3s")->count(), 3723000000000LL);
  EXPECT_EQ(parseGoDuration("2us")->count(), 2000);
  EXPECT_EQ(parseGoDuration("0")->count(), 0);
  EXPECT_FALSE(parseGoDuration("10"));
  EXPECT_FALSE(parseGoDuration("s"));
}

TEST(ParseLocalIps, MixedFamiliesAndErrorsLikeUpstream) {
  auto ips = parseLocalIps("169.254.20.10,fd00::10,10.96.0.10,169.254.20.10");
  ASSERT_TRUE(ips) << ips.error().message();
  ASSERT_EQ(ips->size(), 3u);
  EXPECT_EQ((*ips)[1].toString(), "fd00::10");
  for (const char* bad : {"", "1.2.3.4,", "1.2.3.4,,5.6.7.8", "nope", "0.0.0.0"}) {
    auto r = parseLocalIps(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message().find("invalid localip specified"), std::string::npos);
  }
}

TEST(ServiceHostEnvName, FollowsKubernetesServiceLinks) {
  EXPECT_EQ(serviceHostEnvName("kube-dns-upstream"), "KUBE_DNS_UPSTREAM_SERVICE_HOST");
  EXPECT_EQ(serviceHostEnvName("kube-dns"), "KUBE_DNS_SERVICE_HOST");
}

TEST(ParseListenAddress, GoListenForms) {
  EXPECT_EQ(parseListenAddress(":9353")->toString(), "0.0.0.0:9353");
  EXPECT_EQ(parseListenAddress("0.0.0.0:9353")->toString(), "0.0.0.0:9353");
  EXPECT_EQ(parseListenAddress("[::]:9353")->toString(), "[::]:9353");
  EXPECT_EQ(parseListenAddress("127.0.0.1:0")->port, 0);
  EXPECT_EQ(parseListenAddress("localhost:80")->toString(), "127.0.0.1:80");
  EXPECT_FALSE(parseListenAddress("9353"));
  EXPECT_FALSE(parseListenAddress("host:9353"));
  EXPECT_FALSE(parseListenAddress(":http"));
}

TEST(HandoverMode, ParsesAndPrints) {
  for (auto m : {HandoverMode::kAuto, HandoverMode::kAlways, HandoverMode::kNever}) {
    EXPECT_EQ(*parseHandoverMode(toString(m)), m);
  }
  EXPECT_FALSE(parseHandoverMode("sometimes"));
}

// The library waits in epoll by default (resolver::ServerOptions); the daemon opts in to the
// blocking-read mode unless told --udp-wait epoll.
TEST(ToRunConfig, UdpWaitAutoIsTheDaemonsDefault) {
  RunFlags f;
  f.localip = "169.254.20.10";
  auto c = toRunConfig(f);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->server.udp_wait, resolver::UdpWait::kAuto);
  EXPECT_EQ(resolver::ServerOptions{}.udp_wait, resolver::UdpWait::kEpoll);
  f.udp_wait = "epoll";
  c = toRunConfig(f);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->server.udp_wait, resolver::UdpWait::kEpoll);
  f.udp_wait = "eager";  // a test mode, not a flag value
  EXPECT_FALSE(toRunConfig(f));
}

}  // namespace
}  // namespace nld::cli
