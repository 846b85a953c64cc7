// `nodelocaldns run` end to end, each TEST in its own network namespace: the upstream manifest's
// Corefile and args (tests/resolver/config/testdata/upstream-configmap.Corefile with the docs'
// sed applied), nsd on 10.96.12.34:53 as the kube-dns-upstream stand-in, dig/curl/iptables-legacy
// as oracles.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <thread>

#include "base/atomic_file.h"
#include "base/fd.h"
#include "base/ip.h"
#include "tests/support/netns.h"

namespace nld::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

bool waitFor(const std::function<bool()>& cond, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (cond()) {
      return true;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  return cond();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

std::string dig(const std::string& server, const std::string& name) {
  return trim(test::run("dig +short +time=1 +tries=1 @" + server + " " + name).out);
}

std::string httpStatus(const std::string& url) {
  return trim(test::run("curl -s -o /dev/null -m 3 -w '%{http_code}' " + url).out);
}

// Lines of iptables-legacy-save without comments/counters; interface and address list.
std::string netState() {
  std::string rules =
      test::run("iptables-legacy-save 2>/dev/null | grep -v '^#' | sed 's/\\[[0-9:]*\\]//'").out;
  std::string links = test::run("ip -o link show | awk '{print $2}'").out;
  std::string addrs = test::run("ip -o addr show | awk '{print $2, $4}'").out;
  return rules + links + addrs;
}

int countOurRules() {
  return std::stoi("0" +
                   trim(test::run("iptables-legacy-save | grep -c 'NodeLocal DNS Cache'").out));
}

class RunE2e : public ::testing::Test {
 protected:
  // Call after NLD_ENTER_NETNS().
  void setUpWorld() {
    if (test::run("command -v nsd && command -v dig && command -v curl").exit_code != 0) {
      GTEST_SKIP() << "needs nsd, dig and curl";
    }
    ASSERT_EQ(test::run("ip addr add 10.96.12.34/32 dev lo").exit_code, 0);
    d_ = dir_.path();
    fs::create_directories(d_ + "/coredns");
    fs::create_directories(d_ + "/kube-dns");
    std::string zone =
        "$ORIGIN cluster.local.\n$TTL 30\n"
        "@ IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 "
        "86400 5\n@ IN NS ns.dns.cluster.local.\nns.dns IN A 10.96.0.10\n";
    for (int i = 1; i <= 20; ++i) {
      zone +=
          "svc" + std::to_string(i) + ".default.svc IN A 10.96.0." + std::to_string(i + 1) + "\n";
    }
    ASSERT_TRUE(writeFileAtomic(d_ + "/cluster.local.zone", zone));
    ASSERT_TRUE(writeFileAtomic(d_ + "/acme.local.zone",
                                "$ORIGIN acme.local.\n$TTL 30\n@ IN SOA ns hm 1 7200 1800 86400 "
                                "5\n@ IN NS ns\nns IN A 10.96.12.34\nwww IN A 192.0.2.80\n"));
    std::string conf =
        "server:\n  ip-address: 10.96.12.34\n  port: 53\n  username: \"\"\n"
        "  chroot: \"\"\n  zonesdir: \"" +
        d_ +
        "\"\n  database: \"\"\n"
        "  pidfile: \"" +
        d_ + "/nsd.pid\"\n  xfrdfile: \"" + d_ +
        "/xfrd.state\"\n"
        "  zonelistfile: \"" +
        d_ +
        "/zone.list\"\n  server-count: 1\n"
        "  logfile: \"" +
        d_ +
        "/nsd.log\"\nremote-control:\n"
        "  control-enable: no\nzone:\n  name: cluster.local\n"
        "  zonefile: cluster.local.zone\nzone:\n  name: acme.local\n"
        "  zonefile: acme.local.zone\n";
    ASSERT_TRUE(writeFileAtomic(d_ + "/nsd.conf", conf));
    auto r = test::run("nsd -c " + d_ + "/nsd.conf");
    ASSERT_EQ(r.exit_code, 0) << r.out;
    nsd_started_ = true;
    ASSERT_TRUE(waitFor([] { return dig("10.96.12.34", "ns.dns.cluster.local") == "10.96.0.10"; },
                        milliseconds(5000)));
    // The docs' sed for iptables mode (spec §5.1).
    std::string base =
        readFile(test::sourcePath("tests/resolver/config/testdata/upstream-configmap.Corefile"))
            .value();
    auto replace = [&](const std::string& from, const std::string& to) {
      for (size_t p; (p = base.find(from)) != std::string::npos;) {
        base.replace(p, from.size(), to);
      }
    };
    replace("__PILLAR__DNS__DOMAIN__", "cluster.local");
    replace("__PILLAR__LOCAL__DNS__", "169.254.20.10");
    replace("__PILLAR__DNS__SERVER__", "10.96.0.10");
    ASSERT_TRUE(writeFileAtomic(d_ + "/coredns/Corefile.base", base));
    ::setenv("KUBE_DNS_UPSTREAM_SERVICE_HOST", "10.96.12.34", 1);
  }

  void TearDown() override {
    for (pid_t pid : children_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (nsd_started_) {
      test::run("kill $(cat " + d_ + "/nsd.pid) 2>/dev/null");
    }
  }

  // The manifest's args (spec §2b) plus a per-test lock, pidfile and a short sync interval.
  std::vector<std::string> manifestArgs() const {
    return {"run",
            "-localip",
            "169.254.20.10,10.96.0.10",
            "-conf",
            d_ + "/Corefile",
            "-basecorefile",
            d_ + "/coredns/Corefile.base",
            "-kubednscm",
            d_ + "/kube-dns",
            "-upstreamsvc",
            "kube-dns-upstream",
            "-pidfile",
            d_ + "/node-cache.pid",
            "-syncinterval",
            "1s",
            "--xtables-lock",
            d_ + "/xtables.lock",
            "--workers",
            "2"};
  }

  pid_t start(std::vector<std::string> args, const std::string& log, bool test_hooks = false) {
    std::string exe = test::binaryPath("nodelocaldns");
    args.insert(args.begin(), exe);
    pid_t pid = ::fork();
    if (pid == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      if (test_hooks) {
        ::setenv("NLD_TEST_HOOKS", "1", 1);
      }
      std::vector<char*> argv;
      for (auto& a : args) {
        argv.push_back(a.data());
      }
      argv.push_back(nullptr);
      ::execv(exe.c_str(), argv.data());
      ::_exit(127);
    }
    children_.push_back(pid);
    return pid;
  }

  // Waits until the pidfile names `pid` (written once every DNS listener is bound).
  bool waitServing(pid_t pid) {
    return waitFor(
        [&] {
          auto t = readFile(d_ + "/node-cache.pid");
          return t && trim(*t) == std::to_string(pid);
        },
        milliseconds(10000));
  }

  int waitExit(pid_t pid, milliseconds timeout) {
    int status = 0;
    bool done = waitFor([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, timeout);
    if (!done) {
      return -1;
    }
    children_.erase(std::remove(children_.begin(), children_.end(), pid), children_.end());
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  std::string metrics() { return test::run("curl -s -m 3 http://127.0.0.1:9353/metrics").out; }

  static double metricValue(const std::string& text, const std::string& series) {
    size_t p = text.find("\n" + series + " ");
    if (p == std::string::npos) {
      return -1;
    }
    return std::stod(text.substr(p + series.size() + 2));
  }

  test::TempDir dir_;
  std::string runLog() const { return readFile(d_ + "/run.log").value_or(""); }
  // The node before the daemon: listing instantiates the (empty) raw and filter tables first,
  // as any iptables user would.
  static std::string baselineNetState() {
    test::run("iptables-legacy -w -t raw -S; iptables-legacy -w -S");
    return netState();
  }
  std::string d_;
  std::vector<pid_t> children_;
  bool nsd_started_ = false;
};

TEST_F(RunE2e, ServesManifestCorefileOnBothAddressesWithHealthAndMetrics) {
  NLD_ENTER_NETNS();
  setUpWorld();
  if (IsSkipped()) {
    return;
  }
  pid_t pid = start(manifestArgs(), d_ + "/run.log");
  ASSERT_TRUE(waitServing(pid)) << runLog();
  EXPECT_EQ(dig("169.254.20.10", "svc1.default.svc.cluster.local"), "10.96.0.2");
  EXPECT_EQ(dig("10.96.0.10", "svc2.default.svc.cluster.local"), "10.96.0.3");
  EXPECT_EQ(trim(test::run("dig +short +tcp +time=1 +tries=1 @169.254.20.10 "
                           "svc3.default.svc.cluster.local")
                     .out),
            "10.96.0.4");
  // The runtime Corefile was written with the cluster DNS substituted.
  std::string conf = readFile(d_ + "/Corefile").value_or("");
  EXPECT_NE(conf.find("forward . 10.96.12.34"), std::string::npos) << conf;
  EXPECT_EQ(conf.find("__PILLAR__"), std::string::npos) << conf;

  EXPECT_EQ(httpStatus("http://169.254.20.10:8080/health"), "200");
  EXPECT_EQ(httpStatus("http://127.0.0.1:9353/ready"), "200");
  EXPECT_EQ(countOurRules(), 24);  // 12 per local address (spec §4.1)

  std::string m1 = metrics();
  for (const char* name :
       {"# TYPE coredns_dns_requests_total counter",
        "# TYPE coredns_nodecache_setup_errors_total counter",
        "coredns_nodecache_setup_errors_total{errortype=\"iptables_lock\"} 0",
        "coredns_nodecache_setup_errors_total{errortype=\"configmap\"} 0",
        "# TYPE coredns_dns_request_duration_seconds histogram", "coredns_cache_",
        "coredns_build_info{", "process_resident_memory_bytes"}) {
    EXPECT_NE(m1.find(name), std::string::npos) << name << "\n" << m1;
  }
  // Every sample line parses as NAME{LABELS} VALUE; counters move with queries.
  std::istringstream lines(m1);
  std::string line;
  int samples = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    size_t sp = line.rfind(' ');
    ASSERT_NE(sp, std::string::npos) << line;
    EXPECT_NO_THROW((void)std::stod(line.substr(sp + 1))) << line;
    ++samples;
  }
  EXPECT_GT(samples, 10);
  // The same text on the Corefile's prometheus address.
  EXPECT_NE(test::run("curl -s -m 3 http://127.0.0.1:9253/metrics")
                .out.find("coredns_nodecache_setup_errors_total"),
            std::string::npos);
  const std::string series =
      "coredns_dns_requests_total{server=\"dns://169.254.20.10:53\",zone=\"cluster.local.\","
      "view=\"\",proto=\"udp\",family=\"1\",type=\"A\"}";
  double before = metricValue(m1, series);
  for (int i = 0; i < 5; ++i) {
    dig("169.254.20.10", "svc1.default.svc.cluster.local");
  }
  double after = metricValue(metrics(), series);
  EXPECT_GE(after, before + 5) << series;

  ::kill(pid, SIGTERM);
  EXPECT_EQ(waitExit(pid, milliseconds(10000)), 0);
}

// The deliveryhero chart's noIPv6Lookups template and kubespray's hosts block, through the real
// daemon: every AAAA is NODATA without asking upstream, A goes on to nsd, hosts answers from its
// file and inline entries and falls through for the rest.
TEST_F(RunE2e, ChartTemplateAndHostsBlocksServe) {
  NLD_ENTER_NETNS();
  setUpWorld();
  if (IsSkipped()) {
    return;
  }
  ASSERT_TRUE(writeFileAtomic(d_ + "/hosts", "192.0.2.54 node-a.cluster.local\n"));
  std::string base = readFile(d_ + "/coredns/Corefile.base").value();
  const std::string key = "cluster.local:53 {\n";
  ASSERT_EQ(base.find(key), 0u);
  base.insert(key.size(), "    template ANY AAAA {\n      rcode NOERROR\n    }\n    hosts " + d_ +
                              "/hosts cluster.local {\n      192.0.2.55 extra.cluster.local\n"
                              "      fallthrough\n    }\n");
  ASSERT_TRUE(writeFileAtomic(d_ + "/coredns/Corefile.base", base));
  pid_t pid = start(manifestArgs(), d_ + "/run.log");
  ASSERT_TRUE(waitServing(pid)) << runLog();
  auto full = [](const std::string& args) {
    return test::run("dig +time=1 +tries=1 @169.254.20.10 " + args).out;
  };
  std::string aaaa = full("svc1.default.svc.cluster.local AAAA");
  EXPECT_NE(aaaa.find("status: NOERROR"), std::string::npos) << aaaa;
  EXPECT_NE(aaaa.find("ANSWER: 0,"), std::string::npos) << aaaa;
  EXPECT_NE(aaaa.find(" aa"), std::string::npos) << aaaa;
  EXPECT_EQ(dig("169.254.20.10", "svc1.default.svc.cluster.local"), "10.96.0.2");
  EXPECT_EQ(dig("169.254.20.10", "extra.cluster.local"), "192.0.2.55");
  EXPECT_EQ(dig("169.254.20.10", "node-a.cluster.local"), "192.0.2.54");
}

TEST_F(RunE2e, ConfigMapChangeAppliedLiveAndInvalidChangeSurvived) {
  NLD_ENTER_NETNS();
  setUpWorld();
  if (IsSkipped()) {
    return;
  }
  pid_t pid = start(manifestArgs(), d_ + "/run.log");
  ASSERT_TRUE(waitServing(pid));
  // No upstreamNameservers: "." forwards to /etc/resolv.conf, unreachable in this namespace.
  EXPECT_EQ(dig("169.254.20.10", "www.acme.local"), "");

  // kubelet's AtomicWriter: new timestamped directory, ..data symlink swapped, key symlinks.
  std::string kd = d_ + "/kube-dns";
  auto project = [&](const std::string& stamp, const std::string& key, const std::string& value) {
    fs::create_directory(kd + "/" + stamp);
    ASSERT_TRUE(writeFileAtomic(kd + "/" + stamp + "/" + key, value));
    fs::create_directory_symlink(stamp, kd + "/..data_tmp");
    fs::rename(kd + "/..data_tmp", kd + "/..data");
    if (!fs::is_symlink(kd + "/" + key)) {
      fs::create_symlink("..data/" + key, kd + "/" + key);
    }
  };
  auto t0 = Clock::now();
  project("..2026_01", "stubDomains", R"({"acme.local": ["10.96.12.34"]})");
  EXPECT_TRUE(waitFor([] { return dig("169.254.20.10", "www.acme.local") == "192.0.2.80"; },
                      milliseconds(5000)));
  auto applied_ms = std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count();
  RecordProperty("configmap_applied_ms", std::to_string(applied_ms));
  std::printf("ConfigMap change applied in %lld ms\n", static_cast<long long>(applied_ms));
  std::string conf = readFile(d_ + "/Corefile").value_or("");
  EXPECT_NE(conf.find("acme.local:53"), std::string::npos) << conf;

  // Invalid JSON: old config keeps serving, counted, watching continues.
  project("..2026_02", "stubDomains", R"({"acme.local": ["10.96.12.34")");
  EXPECT_TRUE(waitFor(
      [&] {
        return metrics().find("coredns_nodecache_setup_errors_total{errortype=\"configmap\"} 1") !=
               std::string::npos;
      },
      milliseconds(5000)));
  EXPECT_EQ(dig("169.254.20.10", "www.acme.local"), "192.0.2.80");
  EXPECT_EQ(readFile(d_ + "/Corefile").value_or(""), conf);

  // An invalid base Corefile is survived too (coredns_reload_failed_total).
  std::string base = readFile(d_ + "/coredns/Corefile.base").value();
  ASSERT_TRUE(writeFileAtomic(d_ + "/coredns/Corefile.base", base + "\nbroken {\n  forwrd .\n}\n"));
  EXPECT_TRUE(waitFor([&] { return metricValue(metrics(), "coredns_reload_failed_total") >= 1; },
                      milliseconds(5000)));
  EXPECT_EQ(dig("169.254.20.10", "svc4.default.svc.cluster.local"), "10.96.0.5");

  // Fixed again: applied (stub removed).
  ASSERT_TRUE(writeFileAtomic(d_ + "/coredns/Corefile.base", base));
  project("..2026_03", "stubDomains", "{}");
  EXPECT_TRUE(waitFor(
      [&] {
        return readFile(d_ + "/Corefile").value_or("").find("acme.local") == std::string::npos;
      },
      milliseconds(5000)));
  ::kill(pid, SIGTERM);
  EXPECT_EQ(waitExit(pid, milliseconds(10000)), 0);
}

// After start-up every thread of the daemon holds only CAP_NET_ADMIN, CAP_NET_RAW and
// CAP_NET_BIND_SERVICE (before: the full set for its whole life), in the bounding set too; and
// what the run loop does later (a ConfigMap reload, a rule sync, the interface restore, the
// teardown with pidfile removal) still works with them.
TEST_F(RunE2e, OnlyNetworkCapabilitiesAfterStartUpAndTheRunLoopStillWorks) {
  NLD_ENTER_NETNS();
  setUpWorld();
  if (IsSkipped()) {
    return;
  }
  pid_t pid = start(manifestArgs(), d_ + "/run.log");
  ASSERT_TRUE(waitServing(pid)) << runLog();
  // cap_net_bind_service (10), cap_net_admin (12), cap_net_raw (13).
  const std::string kNet = "0000000000003400";
  int threads = 0;
  for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    std::string status = readFile(task.path().string() + "/status").value_or("");
    auto field = [&](const std::string& name) {
      size_t p = status.find("\n" + name + ":\t");
      return p == std::string::npos ? "?" : status.substr(p + name.size() + 3, 16);
    };
    EXPECT_EQ(field("CapEff"), kNet) << task.path();
    EXPECT_EQ(field("CapPrm"), kNet) << task.path();
    EXPECT_EQ(field("CapBnd"), kNet) << task.path();
    EXPECT_EQ(field("CapInh"), "0000000000000000") << task.path();
    EXPECT_EQ(field("CapAmb"), "0000000000000000") << task.path();
    ++threads;
  }
  EXPECT_GE(threads, 3);  // main, two workers, HTTP
  EXPECT_NE(runLog().find("capabilities kept: cap_net_bind_service,cap_net_admin,cap_net_raw"),
            std::string::npos)
      << runLog();

  // A ConfigMap reload (new server block, listeners re-bound on port 53).
  ASSERT_TRUE(writeFileAtomic(d_ + "/kube-dns/stubDomains", R"({"acme.local": ["10.96.12.34"]})"));
  EXPECT_TRUE(waitFor([] { return dig("169.254.20.10", "www.acme.local") == "192.0.2.80"; },
                      milliseconds(5000)))
      << runLog();
  // The interface deleted: restored (netlink). The rules flushed: restored at the next sync.
  ASSERT_EQ(test::run("ip link del nodelocaldns").exit_code, 0);
  ASSERT_EQ(test::run("iptables-legacy -w -t raw -F && iptables-legacy -w -F").exit_code, 0);
  EXPECT_TRUE(waitFor([] { return countOurRules() > 0; }, milliseconds(5000))) << runLog();
  EXPECT_TRUE(
      waitFor([] { return dig("169.254.20.10", "svc3.default.svc.cluster.local") == "10.96.0.4"; },
              milliseconds(5000)))
      << runLog();
  EXPECT_EQ(runLog().find("Operation not permitted"), std::string::npos) << runLog();
  ::kill(pid, SIGTERM);
  EXPECT_EQ(waitExit(pid, milliseconds(10000)), 0) << runLog();
  EXPECT_EQ(countOurRules(), 0);
  EXPECT_FALSE(fs::exists(d_ + "/node-cache.pid"));
  EXPECT_NE(test::run("ip link show nodelocaldns").exit_code, 0) << "interface torn down";
}

// A stub domain with a 64-octet label passed validation, then failed the Corefile parse: `run`
// exited 1 at start-up (a crash loop on every node at its next restart), and at run time the
// error blamed a base Corefile line that does not exist while setup_errors{configmap} stayed 0.
// Now it is a ConfigMap error naming the key and its file, counted; the base Corefile serves.
// A stub domain the base already serves (valid alone, its block conflicts) is treated the same.
TEST_F(RunE2e, StubDomainThatCannotParseIsAConfigMapErrorNotAnExit) {
  NLD_ENTER_NETNS();
  setUpWorld();
  if (IsSkipped()) {
    return;
  }
  const std::string label64(64, 'a');
  ASSERT_TRUE(writeFileAtomic(d_ + "/kube-dns/stubDomains",
                              "{\"" + label64 + ".example\": [\"10.96.12.34\"]}"));
  pid_t pid = start(manifestArgs(), d_ + "/run.log");
  ASSERT_TRUE(waitServing(pid)) << runLog();
  EXPECT_EQ(dig("169.254.20.10", "svc2.default.svc.cluster.local"), "10.96.0.3");
  EXPECT_NE(runLog().find("kube-dns ConfigMap key 'stubDomains' ('" + d_ +
                          "/kube-dns/stubDomains'): invalid domain name '" + label64 +
                          ".example' (label '" + label64 +
                          "' is 64 octets long, DNS allows at most 63), ignoring it"),
            std::string::npos)
      << runLog();
  EXPECT_NE(metrics().find("coredns_nodecache_setup_errors_total{errortype=\"configmap\"} 1"),
            std::string::npos);

  // At run time: a valid ConfigMap first, then one whose block conflicts with the base.
  ASSERT_TRUE(writeFileAtomic(d_ + "/kube-dns/stubDomains", R"({"acme.local": ["10.96.12.34"]})"));
  EXPECT_TRUE(waitFor([] { return dig("169.254.20.10", "www.acme.local") == "192.0.2.80"; },
                      milliseconds(5000)))
      << runLog();
  ASSERT_TRUE(writeFileAtomic(d_ + "/kube-dns/stubDomains",
                              R"({"cluster.local": ["10.96.12.34"], "acme.local": ["10.9.9.9"]})"));
  EXPECT_TRUE(waitFor(
      [&] {
        return metricValue(metrics(),
                           "coredns_nodecache_setup_errors_total{errortype=\"configmap\"}") >= 2;
      },
      milliseconds(5000)))
      << runLog();
  EXPECT_NE(runLog().find("kube-dns ConfigMap in '" + d_ +
                          "/kube-dns': the Corefile blocks it gives do not parse"),
            std::string::npos)
      << runLog();
  EXPECT_EQ(metricValue(metrics(), "coredns_reload_failed_total"), 0) << "not the base's fault";
  EXPECT_EQ(dig("169.254.20.10", "www.acme.local"), "192.0.2.80") << "the previous one serves";
  ::kill(pid, SIGTERM);
  EXPECT_EQ(waitExit(pid, milliseconds(10000)), 0);
}

TEST_F(RunE2e, DeletedInterfaceAndFlushedRulesAreRestored) {
  NLD_ENTER_NETNS();
  setUpWorld();
  if (IsSkipped()) {
    return;
  }
  pid_t pid = start(manifestArgs(), d_ + "/run.log");
  ASSERT_TRUE(waitServing(pid));
  auto hasAddrs = [] {
    std::string out = test::run("ip -o addr show dev nodelocaldns 2>/dev/null").out;
    return out.find("169.254.20.10/32") != std::string::npos &&
           out.find("10.96.0.10/32") != std::string::npos;
  };
  ASSERT_TRUE(hasAddrs());
  auto t0 = Clock::now();
  ASSERT_EQ(test::run("ip link del nodelocaldns").exit_code, 0);
  EXPECT_TRUE(waitFor(hasAddrs, milliseconds(3000)));
  auto link_ms = std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count();
  std::printf("interface restored in %lld ms\n", static_cast<long long>(link_ms));
  RecordProperty("link_restored_ms", std::to_string(link_ms));
  EXPECT_LE(link_ms, 1000);
  EXPECT_TRUE(
      waitFor([] { return dig("169.254.20.10", "svc5.default.svc.cluster.local") == "10.96.0.6"; },
              milliseconds(3000)));

  // One address removed: restored too.
  ASSERT_EQ(test::run("ip addr del 10.96.0.10/32 dev nodelocaldns").exit_code, 0);
  EXPECT_TRUE(waitFor(hasAddrs, milliseconds(1500)));

  ASSERT_EQ(countOurRules(), 24);
  t0 = Clock::now();
  test::run(
      "iptables-legacy -w -t raw -F PREROUTING; iptables-legacy -w -t raw -F OUTPUT; "
      "iptables-legacy -w -F INPUT; iptables-legacy -w -F OUTPUT");
  EXPECT_TRUE(waitFor([] { return countOurRules() == 24; }, milliseconds(4000)));
  auto rules_ms = std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count();
  std::printf("rules restored in %lld ms (-syncinterval 1s)\n", static_cast<long long>(rules_ms));
  ::kill(pid, SIGTERM);
  EXPECT_EQ(waitExit(pid, milliseconds(10000)), 0);
}

TEST_F(RunE2e, SigtermLeavesTheNamespaceAsBefore) {
  NLD_ENTER_NETNS();
  setUpWorld();
  if (IsSkipped()) {
    return;
  }
  std::string before = baselineNetState();
  pid_t pid = start(manifestArgs(), d_ + "/run.log");
  ASSERT_TRUE(waitServing(pid));
  EXPECT_NE(netState(), before);
  auto t0 = Clock::now();
  ::kill(pid, SIGTERM);
  EXPECT_EQ(waitExit(pid, milliseconds(10000)), 0);
  std::printf(
      "SIGTERM to exit: %lld ms\n",
      static_cast<long long>(std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count()));
  EXPECT_EQ(netState(), before);
  EXPECT_FALSE(fs::exists(d_ + "/node-cache.pid"));
  std::string log = runLog();
  EXPECT_NE(log.find("tearing down"), std::string::npos) << log;
}

// A second signal while the daemon drains forces a quick exit (non-zero) that still leaves the
// namespace as before: the rules (removed first) and the interface go, only the drain is skipped.
TEST_F(RunE2e, SecondSignalSkipsTheDrainButStillTearsDown) {
  NLD_ENTER_NETNS();
  setUpWorld();
  if (IsSkipped()) {
    return;
  }
  std::string before = baselineNetState();
  // An upstream that never answers: a forwarded query stays in flight, so a drain would last its
  // whole bound (2 s).
  Fd upstream(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(sa);
  ASSERT_EQ(::bind(upstream.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  ASSERT_EQ(::getsockname(upstream.get(), reinterpret_cast<sockaddr*>(&sa), &len), 0);
  ASSERT_TRUE(
      writeFileAtomic(d_ + "/coredns/Corefile.base",
                      ".:53 {\n    bind 169.254.20.10 10.96.0.10\n    forward . 127.0.0.1:" +
                          std::to_string(ntohs(sa.sin_port)) + "\n}\n"));
  pid_t pid = start(manifestArgs(), d_ + "/run.log");
  ASSERT_TRUE(waitServing(pid));
  ASSERT_TRUE(waitFor([&] { return countOurRules() == 24; }, milliseconds(5000)));
  test::run("(dig +time=5 +tries=1 @169.254.20.10 stuck.example >/dev/null 2>&1 &)");
  pollfd p{upstream.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1) << "the query never reached the upstream";

  ::kill(pid, SIGTERM);
  // The drain starts right after the rules are removed, which the daemon logs: watching the log
  // (not polling iptables-save, which takes long on a busy machine) puts the SIGINT at the start
  // of the 2 s drain.
  ASSERT_TRUE(waitFor([&] { return runLog().find("removed 24 rules") != std::string::npos; },
                      milliseconds(5000)));
  auto t0 = Clock::now();
  ::kill(pid, SIGINT);
  // 128 + SIGINT, and the log line, prove the drain was cut short; the time is a sanity bound
  // (less than the drain itself) and printed.
  EXPECT_EQ(waitExit(pid, milliseconds(5000)), 128 + SIGINT);
  auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
  std::printf("second signal to exit: %lld ms (the drain would take 2000 ms)\n",
              static_cast<long long>(took.count()));
  EXPECT_LT(took, milliseconds(2000));
  EXPECT_EQ(countOurRules(), 0);
  EXPECT_EQ(netState(), before);
  EXPECT_FALSE(fs::exists(d_ + "/node-cache.pid"));
  std::string log = runLog();
  EXPECT_NE(log.find("during shutdown: forcing exit without draining"), std::string::npos) << log;
}

// Both signals at once (the second pending before the shutdown starts): the rules still go.
TEST_F(RunE2e, TwoSignalsAtOnceStillRemoveTheRules) {
  NLD_ENTER_NETNS();
  setUpWorld();
  if (IsSkipped()) {
    return;
  }
  std::string before = baselineNetState();
  pid_t pid = start(manifestArgs(), d_ + "/run.log");
  ASSERT_TRUE(waitServing(pid));
  ASSERT_TRUE(waitFor([&] { return countOurRules() == 24; }, milliseconds(5000)));
  ::kill(pid, SIGTERM);
  ::kill(pid, SIGINT);
  int code = waitExit(pid, milliseconds(5000));
  // 128 + the signal read second when it is seen before the drain ends (both pending: the kernel
  // hands out the lower number, SIGINT, first), 0 when the drain won.
  EXPECT_TRUE(code == 128 + SIGTERM || code == 128 + SIGINT || code == 0) << code;
  EXPECT_EQ(netState(), before);
}

TEST_F(RunE2e, HealthGoesRedWhenTheServingLoopStops) {
  NLD_ENTER_NETNS();
  setUpWorld();
  if (IsSkipped()) {
    return;
  }
  pid_t pid = start(manifestArgs(), d_ + "/run.log", /*test_hooks=*/true);
  ASSERT_TRUE(waitServing(pid));
  EXPECT_EQ(httpStatus("http://169.254.20.10:8080/health"), "200");
  ::kill(pid, SIGRTMIN + 1);  // NLD_TEST_HOOKS: stop the DNS workers, keep the process
  EXPECT_TRUE(waitFor([] { return httpStatus("http://169.254.20.10:8080/health") == "503"; },
                      milliseconds(5000)));
  EXPECT_EQ(httpStatus("http://127.0.0.1:9353/ready"), "503");
  ::kill(pid, SIGTERM);
  EXPECT_EQ(waitExit(pid, milliseconds(10000)), 0);
}

// A health probe that takes long (NLD_TEST_PROBE_DELAY_MS: as slow as one to a stuck worker)
// delays neither a reload nor the shutdown: the probe takes no lock they need. Before, the probe
// ran under the lock both take, so each waited for it to finish (reload 8 s, exit 8 s).
TEST_F(RunE2e, SlowHealthProbeDelaysNeitherReloadNorShutdown) {
  NLD_ENTER_NETNS();
  setUpWorld();
  if (IsSkipped()) {
    return;
  }
  // Long against a reload or an exit (~0.1-0.2 s), short enough not to dominate the suite.
  constexpr milliseconds kDelay{4000};
  ::setenv("NLD_TEST_PROBE_DELAY_MS", std::to_string(kDelay.count()).c_str(), 1);
  pid_t pid = start(manifestArgs(), d_ + "/run.log", /*test_hooks=*/true);
  ::unsetenv("NLD_TEST_PROBE_DELAY_MS");
  ASSERT_TRUE(waitServing(pid));
  test::run("(curl -s -o /dev/null -m 20 http://169.254.20.10:8080/health >/dev/null 2>&1 &)");
  ASSERT_TRUE(waitFor([&] { return runLog().find("health probe delayed") != std::string::npos; },
                      milliseconds(5000)));

  auto t0 = Clock::now();
  std::string base = readFile(d_ + "/coredns/Corefile.base").value();
  ASSERT_TRUE(writeFileAtomic(d_ + "/coredns/Corefile.base", base + "\n# changed\n"));
  ASSERT_TRUE(waitFor([&] { return runLog().find("configuration reloaded") != std::string::npos; },
                      kDelay));
  auto reload_ms = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
  EXPECT_LT(reload_ms, kDelay / 2);

  // Another probe in progress (after the first one), then SIGTERM.
  auto probes = [&] {
    std::string log = runLog();
    size_t n = 0;
    for (size_t p = log.find("health probe delayed"); p != std::string::npos;
         p = log.find("health probe delayed", p + 1)) {
      ++n;
    }
    return n;
  };
  test::run("(curl -s -o /dev/null -m 30 http://169.254.20.10:8080/health >/dev/null 2>&1 &)");
  ASSERT_TRUE(waitFor([&] { return probes() >= 2; }, kDelay * 2));
  t0 = Clock::now();
  ::kill(pid, SIGTERM);
  EXPECT_EQ(waitExit(pid, kDelay * 2), 0);
  auto exit_ms = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
  std::printf("during an %lld ms probe: reload %lld ms, SIGTERM to exit %lld ms\n",
              static_cast<long long>(kDelay.count()), static_cast<long long>(reload_ms.count()),
              static_cast<long long>(exit_ms.count()));
  EXPECT_LT(exit_ms, kDelay / 2);
}

// The daemon's health port under the issue's abuse: 100 connections held open by other pods
// (the old server served one at a time: three idle ones made most kubelet probes time out).
// Also checks that the HTTP limit flags reach the server.
TEST_F(RunE2e, HealthAnswersWithHundredConnectionsHeldAndHonoursTheLimitFlags) {
  NLD_ENTER_NETNS();
  setUpWorld();
  if (IsSkipped()) {
    return;
  }
  auto args = manifestArgs();
  for (const char* a : {"--http-max-header-bytes", "512", "--http-header-timeout", "30s"}) {
    args.emplace_back(a);
  }
  pid_t pid = start(args, d_ + "/run.log");
  ASSERT_TRUE(waitServing(pid));
  SocketAddress health = *SocketAddress::parse("169.254.20.10:8080", 0);
  std::vector<Fd> held;
  for (int i = 0; i < 100; ++i) {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_storage ss{};
    socklen_t len = health.toSockaddr(ss);
    ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len), 0);
    if (i % 2 == 1) {
      ::send(fd.get(), "GET /health HTTP/1.1\r\nX: ", 25, MSG_NOSIGNAL);  // slow: never ends
    }
    held.push_back(std::move(fd));
  }
  milliseconds worst{0};
  for (int i = 0; i < 20; ++i) {
    auto t0 = Clock::now();
    EXPECT_EQ(httpStatus("http://169.254.20.10:8080/health"), "200") << i;
    worst = std::max(worst, std::chrono::duration_cast<milliseconds>(Clock::now() - t0));
  }
  // No wall-clock bound: each probe must answer within curl's 3 s, and a server that served one
  // connection at a time would wait out the 30 s header timeout of the slow ones first.
  std::printf("worst /health (curl) of 20 with 100 connections held: %lld ms\n",
              static_cast<long long>(worst.count()));
  std::string big =
      "curl -s -o /dev/null -m 3 -w '%{http_code}' -H 'X-Big: " + std::string(600, 'a') +
      "' http://169.254.20.10:8080/health";
  EXPECT_EQ(trim(test::run(big).out), "431");
  ::kill(pid, SIGTERM);
  EXPECT_EQ(waitExit(pid, milliseconds(10000)), 0);
}

TEST_F(RunE2e, MixedFamiliesWithTheBuiltinCorefile) {
  NLD_ENTER_NETNS();
  setUpWorld();
  if (IsSkipped()) {
    return;
  }
  // No Corefile anywhere: the built-in one forwards "." to /etc/resolv.conf (here: nsd).
  ASSERT_TRUE(writeFileAtomic(d_ + "/resolv.conf", "nameserver 10.96.12.34\n"));
  ASSERT_EQ(test::run("mount --bind " + d_ + "/resolv.conf /etc/resolv.conf").exit_code, 0);
  pid_t pid = start({"run", "-localip", "169.254.20.10,fd00::10", "-basecorefile",
                     d_ + "/none/Corefile.base", "-pidfile", d_ + "/node-cache.pid",
                     "--xtables-lock", d_ + "/xtables.lock", "--workers", "1"},
                    d_ + "/run.log");
  ASSERT_TRUE(waitServing(pid)) << runLog();
  EXPECT_EQ(dig("169.254.20.10", "svc6.default.svc.cluster.local"), "10.96.0.7");
  EXPECT_EQ(dig("fd00::10", "svc7.default.svc.cluster.local"), "10.96.0.8");
  EXPECT_EQ(httpStatus("http://169.254.20.10:8080/health"), "200");
  EXPECT_EQ(countOurRules(), 12);  // iptables: the IPv4 address
  EXPECT_EQ(std::stoi("0" + trim(test::run("ip6tables-legacy-save | grep -c 'fd00::10'").out)), 12);
  ::kill(pid, SIGTERM);
  EXPECT_EQ(waitExit(pid, milliseconds(10000)), 0);
  EXPECT_EQ(countOurRules(), 0);
}

TEST_F(RunE2e, StartUpFailureDivertsNothing) {
  NLD_ENTER_NETNS();
  setUpWorld();
  if (IsSkipped()) {
    return;
  }
  ASSERT_TRUE(writeFileAtomic(d_ + "/coredns/Corefile.base", ".:53 {\n    forwrd . 1.1.1.1\n}\n"));
  pid_t pid = start(manifestArgs(), d_ + "/run.log");
  EXPECT_EQ(waitExit(pid, milliseconds(10000)), 1);
  std::string log = runLog();
  EXPECT_NE(log.find("Corefile.base:2: unknown directive 'forwrd'"), std::string::npos) << log;
  EXPECT_EQ(countOurRules(), 0);
  EXPECT_FALSE(fs::exists(d_ + "/node-cache.pid"));
}

TEST_F(RunE2e, PreRenderedConfIsServedAsIsAndReloadedOnChangeAndSighup) {
  NLD_ENTER_NETNS();
  setUpWorld();
  if (IsSkipped()) {
    return;
  }
  // How `install` runs us: no base, a rendered -conf.
  std::string conf = d_ + "/conf/Corefile";
  fs::create_directories(d_ + "/conf");
  // "." goes to 10.96.12.99: nothing there (no route), so www.acme.local fails until its block
  // is added.
  std::string text =
      "cluster.local:53 {\n    bind 169.254.20.10\n    forward . 10.96.12.34\n"
      "    health 169.254.20.10:8080\n}\n"
      ".:53 {\n    bind 169.254.20.10\n    forward . 10.96.12.99\n}\n";
  ASSERT_TRUE(writeFileAtomic(conf, text));
  pid_t pid = start({"run", "-localip", "169.254.20.10", "-conf", conf, "-basecorefile",
                     d_ + "/none/Corefile.base", "-pidfile", d_ + "/node-cache.pid",
                     "-setupiptables=false", "--workers", "1"},
                    d_ + "/run.log");
  ASSERT_TRUE(waitServing(pid)) << runLog();
  EXPECT_EQ(dig("169.254.20.10", "svc8.default.svc.cluster.local"), "10.96.0.9");
  EXPECT_EQ(readFile(conf).value_or(""), text);  // not rewritten
  EXPECT_EQ(countOurRules(), 0);                 // -setupiptables=false
  EXPECT_EQ(dig("169.254.20.10", "www.acme.local"), "");

  // A change to the file is picked up by the directory watch.
  std::string more =
      text + "acme.local:53 {\n    bind 169.254.20.10\n    forward . 10.96.12.34\n}\n";
  ASSERT_TRUE(writeFileAtomic(conf, more));
  EXPECT_TRUE(waitFor([&] { return runLog().find("configuration reloaded") != std::string::npos; },
                      milliseconds(3000)));
  EXPECT_EQ(dig("169.254.20.10", "www.acme.local"), "192.0.2.80");

  // SIGHUP re-reads even when nothing watched changed (here: unchanged → no reload, still fine).
  ::kill(pid, SIGHUP);
  EXPECT_EQ(dig("169.254.20.10", "svc9.default.svc.cluster.local"), "10.96.0.10");
  ::kill(pid, SIGTERM);
  EXPECT_EQ(waitExit(pid, milliseconds(10000)), 0);
}

TEST_F(RunE2e, Sigusr2HandsOverEvenWithHandoverNever) {
  NLD_ENTER_NETNS();
  setUpWorld();
  if (IsSkipped()) {
    return;
  }
  auto args = manifestArgs();
  args.push_back("--handover");
  args.push_back("never");
  pid_t a = start(args, d_ + "/a.log");
  ASSERT_TRUE(waitServing(a));
  pid_t b = start(args, d_ + "/b.log");
  ASSERT_TRUE(waitServing(b));
  ::kill(a, SIGUSR2);
  EXPECT_EQ(waitExit(a, milliseconds(10000)), 0);
  EXPECT_EQ(countOurRules(), 24);
  EXPECT_EQ(dig("169.254.20.10", "svc10.default.svc.cluster.local"), "10.96.0.11");
  EXPECT_EQ(trim(readFile(d_ + "/node-cache.pid").value_or("")), std::to_string(b));
  // --handover never: B tears down on SIGTERM although nobody else serves (and would anyway).
  ::kill(b, SIGTERM);
  EXPECT_EQ(waitExit(b, milliseconds(10000)), 0);
  EXPECT_EQ(countOurRules(), 0);
  EXPECT_NE(test::run("ip link show nodelocaldns").exit_code, 0);
}

TEST_F(RunE2e, RestartAfterKill9AdoptsInterfaceAndRules) {
  NLD_ENTER_NETNS();
  setUpWorld();
  if (IsSkipped()) {
    return;
  }
  std::string before = baselineNetState();
  pid_t a = start(manifestArgs(), d_ + "/a.log");
  ASSERT_TRUE(waitServing(a));
  // The rules go in right after the pidfile is written: kill only once they are all there.
  ASSERT_TRUE(waitFor([&] { return countOurRules() == 24; }, milliseconds(5000)));
  ::kill(a, SIGKILL);
  EXPECT_EQ(waitExit(a, milliseconds(5000)), 128 + SIGKILL);
  EXPECT_EQ(countOurRules(), 24);  // left behind: the interface stays up, answers fail fast
  pid_t b = start(manifestArgs(), d_ + "/b.log");
  ASSERT_TRUE(waitServing(b));
  std::string log = readFile(d_ + "/b.log").value_or("");
  EXPECT_NE(log.find("'nodelocaldns' ready: adopted"), std::string::npos) << log;
  EXPECT_EQ(countOurRules(), 24);  // no duplicates
  EXPECT_EQ(dig("10.96.0.10", "svc11.default.svc.cluster.local"), "10.96.0.12");
  ::kill(b, SIGTERM);
  EXPECT_EQ(waitExit(b, milliseconds(10000)), 0);
  EXPECT_EQ(netState(), before);
}

// node-cache's bare command line (issue 13): the manifest's args with no `run`, some in kOps'
// -flag=value form, served end to end and torn down on SIGTERM.
TEST_F(RunE2e, NodeCacheBareCommandLineServesAsRun) {
  NLD_ENTER_NETNS();
  setUpWorld();
  if (IsSkipped()) {
    return;
  }
  std::vector<std::string> args = manifestArgs();
  ASSERT_EQ(args.front(), "run");
  args.erase(args.begin());
  args[0] = "-localip=" + args[1];  // kOps' form for two of them
  args.erase(args.begin() + 1);
  args[1] = "-conf=" + args[2];
  args.erase(args.begin() + 2);
  args.push_back("-setupinterface=true");
  std::string before = baselineNetState();
  pid_t pid = start(args, d_ + "/run.log");
  ASSERT_TRUE(waitServing(pid)) << runLog();
  EXPECT_EQ(dig("169.254.20.10", "svc1.default.svc.cluster.local"), "10.96.0.2");
  EXPECT_EQ(dig("10.96.0.10", "svc2.default.svc.cluster.local"), "10.96.0.3");
  EXPECT_NE(readFile(d_ + "/Corefile").value_or("").find("forward . 10.96.12.34"),
            std::string::npos);
  EXPECT_TRUE(waitFor([] { return countOurRules() == 24; }, milliseconds(5000)));
  ::kill(pid, SIGTERM);
  EXPECT_EQ(waitExit(pid, milliseconds(10000)), 0);
  EXPECT_EQ(netState(), before);
}

// node-cache 1.26's series on the daemon's /metrics (issue 13): every TYPE line; /health requests
// observed and failures counted; coredns_reload_version_info = SHA-512 of the served Corefile,
// following a reload; process_max_fds and process_virtual_memory_bytes.
TEST_F(RunE2e, NodeCacheMetricSeriesMoveWithHealthAndReload) {
  NLD_ENTER_NETNS();
  setUpWorld();
  if (IsSkipped()) {
    return;
  }
  pid_t pid = start(manifestArgs(), d_ + "/run.log", /*test_hooks=*/true);
  ASSERT_TRUE(waitServing(pid)) << runLog();
  std::string m = metrics();
  for (const char* type :
       {"counter coredns_forward_healthcheck_broken_total", "counter coredns_panics_total",
        "counter coredns_cache_drops_total", "counter coredns_proxy_conn_cache_hits_total",
        "counter coredns_proxy_conn_cache_misses_total",
        "histogram coredns_health_request_duration_seconds",
        "counter coredns_health_request_failures_total", "gauge coredns_reload_version_info",
        "gauge process_max_fds", "gauge process_virtual_memory_bytes"}) {
    std::string t(type);
    size_t sp = t.find(' ');
    EXPECT_NE(m.find("# TYPE " + t.substr(sp + 1) + " " + t.substr(0, sp) + "\n"),
              std::string::npos)
        << type;
  }
  EXPECT_EQ(metricValue(m, "coredns_panics_total"), 0);
  EXPECT_GT(metricValue(m, "process_max_fds"), 0);
  EXPECT_GE(metricValue(m, "process_virtual_memory_bytes"),
            metricValue(m, "process_resident_memory_bytes"));

  auto version = [](const std::string& text) {
    const std::string key = "coredns_reload_version_info{hash=\"sha512\",value=\"";
    size_t p = text.find(key);
    return p == std::string::npos ? std::string() : text.substr(p + key.size(), 128);
  };
  auto fileSha512 = [&] {
    return trim(test::run("sha512sum " + d_ + "/Corefile | cut -c1-128").out);
  };
  std::string v1 = version(m);
  EXPECT_EQ(v1, fileSha512());

  double count = metricValue(m, "coredns_health_request_duration_seconds_count");
  EXPECT_EQ(httpStatus("http://169.254.20.10:8080/health"), "200");
  EXPECT_EQ(httpStatus("http://169.254.20.10:8080/health"), "200");
  m = metrics();
  EXPECT_EQ(metricValue(m, "coredns_health_request_duration_seconds_count"), count + 2);
  EXPECT_EQ(metricValue(m, "coredns_health_request_failures_total"), 0);

  // A changed Corefile (a comment is enough): reloaded, and the label follows.
  std::string base = readFile(d_ + "/coredns/Corefile.base").value();
  ASSERT_TRUE(writeFileAtomic(d_ + "/coredns/Corefile.base", base + "# changed\n"));
  EXPECT_TRUE(waitFor([&] { return version(metrics()) != v1; }, milliseconds(5000)));
  EXPECT_EQ(version(metrics()), fileSha512());

  ::kill(pid, SIGRTMIN + 1);  // NLD_TEST_HOOKS: stop the DNS workers: /health fails
  EXPECT_TRUE(waitFor([] { return httpStatus("http://169.254.20.10:8080/health") == "503"; },
                      milliseconds(5000)));
  EXPECT_GE(metricValue(metrics(), "coredns_health_request_failures_total"), 1);
  ::kill(pid, SIGTERM);
  EXPECT_EQ(waitExit(pid, milliseconds(10000)), 0);
}

// The same through a `node-cache` symlink (the image's /node-cache) and bare: bad flags are one
// line and exit 2, -h is run's help; `cmake --install` puts the link beside the binary.
TEST(RunFlags, NodeCacheCommandLineBareAndThroughSymlink) {
  std::string exe = test::binaryPath("nodelocaldns");
  test::TempDir dir;
  std::string link = dir.file("node-cache");
  ASSERT_EQ(::symlink(exe.c_str(), link.c_str()), 0);
  for (const std::string& bin : {exe, link}) {
    auto r = test::run(bin + " -localip 169.254.20.10, -conf /etc/Corefile 2>&1");
    EXPECT_EQ(r.exit_code, 2) << bin;
    EXPECT_EQ(r.out,
              "nodelocaldns: error: invalid localip specified - \"\" (-localip "
              "169.254.20.10,)\n");
    r = test::run(bin + " -localip=169.254.20.10 -nosuchflag 2>&1");
    EXPECT_EQ(r.exit_code, 2) << bin;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
    EXPECT_NE(r.out.find("-nosuchflag"), std::string::npos) << r.out;
    r = test::run(bin + " -localip 169.254.20.10 -setupiptables=maybe 2>&1");
    EXPECT_EQ(r.exit_code, 2) << bin;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
    r = test::run(bin + " -version");
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out.rfind("nodelocaldns ", 0), 0u) << r.out;
  }
  auto help = test::run(link + " -h");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("Usage: nodelocaldns run"), std::string::npos) << help.out;
  help = test::run(exe + " -h");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("SUBCOMMAND"), std::string::npos) << help.out;

  auto install = test::run("DESTDIR=" + dir.path() + "/root cmake --install " +
                           test::binaryPath("") + " --prefix /usr 2>&1");
  ASSERT_EQ(install.exit_code, 0) << install.out;
  char target[64] = {};
  ASSERT_GT(
      ::readlink((dir.path() + "/root/usr/sbin/node-cache").c_str(), target, sizeof(target) - 1),
      0);
  EXPECT_STREQ(target, "nodelocaldns");
}

TEST(RunFlags, GoStyleFlagErrorsAreOneLineExitTwo) {
  std::string exe = test::binaryPath("nodelocaldns");
  auto r = test::run(exe + " --log-level warn run -localip 169.254.20.10, -conf /nonexistent 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out,
            "nodelocaldns: error: invalid localip specified - \"\" (-localip "
            "169.254.20.10,)\n");
  r = test::run(exe + " run -localip 169.254.20.10 -syncinterval=2x 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("invalid -syncinterval '2x'"), std::string::npos) << r.out;
  r = test::run(exe + " run -localip 169.254.20.10 -setupiptables=maybe 2>&1");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  r = test::run(exe + " run -localip 169.254.20.10 -health-port 99999 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("-health-port '99999'"), std::string::npos) << r.out;
  r = test::run(exe + " run -localip 169.254.20.10 --udp-wait=spin 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "nodelocaldns: error: invalid --udp-wait 'spin': expected auto or epoll\n");
  r = test::run(exe + " run -localip 169.254.20.10 --health-cache 2s 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out,
            "nodelocaldns: error: invalid --health-cache '2s': expected a duration from 0ms to "
            "1000ms\n");
  r = test::run(exe + " run -localip 169.254.20.10 -http-header-timeout=0s 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("invalid --http-header-timeout '0s'"), std::string::npos) << r.out;
  r = test::run(exe + " run -localip 169.254.20.10 --http-max-connections 0 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("--http-max-connections"), std::string::npos) << r.out;
}

// A paced UDP client: 8 sockets (8 source ports, so the SO_REUSEPORT hash spreads them over
// every instance's sockets), one query every 200 us (5k qps), no retries. A query is lost when
// no answer with its ID arrives by the end (answers get 1 s after the last send).
struct Client {
  static constexpr int kSockets = 8;
  std::atomic<bool> stop{false};
  std::atomic<long> sent{0};
  std::vector<std::atomic<bool>> answered = std::vector<std::atomic<bool>>(65536);
  std::thread sender, receiver;
  std::vector<Fd> fds;
  long lost = 0;

  void run(const std::string& server) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(53);
    ::inet_pton(AF_INET, server.c_str(), &to.sin_addr);
    for (int i = 0; i < kSockets; ++i) {
      fds.emplace_back(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    }
    sender = std::thread([this, to] {
      auto next = Clock::now();
      while (!stop.load()) {
        long seq = sent.load();
        if (seq >= 65535) {
          break;
        }
        uint16_t id = static_cast<uint16_t>(seq);
        std::string label = "svc" + std::to_string(seq % 20 + 1);
        uint8_t q[128] = {static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id), 1, 0, 0, 1};
        size_t len = 12;
        for (const std::string& part : {label, std::string("default"), std::string("svc"),
                                        std::string("cluster"), std::string("local")}) {
          q[len++] = static_cast<uint8_t>(part.size());
          std::memcpy(q + len, part.data(), part.size());
          len += part.size();
        }
        for (uint8_t b : {0, 0, 1, 0, 1}) {
          q[len++] = b;
        }
        ::sendto(fds[static_cast<size_t>(seq % kSockets)].get(), q, len, 0,
                 reinterpret_cast<const sockaddr*>(&to), sizeof(to));
        sent.store(seq + 1);
        next += std::chrono::microseconds(200);
        std::this_thread::sleep_until(next);
      }
    });
    receiver = std::thread([this] {
      std::vector<pollfd> p;
      for (auto& fd : fds) {
        p.push_back({fd.get(), POLLIN, 0});
      }
      std::optional<Clock::time_point> until;
      while (!until || Clock::now() < *until) {
        if (!until && stop.load()) {
          until = Clock::now() + milliseconds(1000);
        }
        if (::poll(p.data(), p.size(), 20) <= 0) {
          continue;
        }
        for (auto& pf : p) {
          uint8_t buf[512];
          ssize_t r;
          while ((r = ::recv(pf.fd, buf, sizeof(buf), 0)) >= 12) {
            if ((buf[3] & 0x0f) == 0 && (buf[2] & 0x80) != 0) {
              answered[static_cast<size_t>(buf[0] << 8 | buf[1])] = true;
            }
          }
        }
      }
    });
  }
  void waitSent(long n) {
    while (sent.load() < n) {
      std::this_thread::sleep_for(milliseconds(5));
    }
  }
  void finish(long at_least) {
    waitSent(at_least);
    stop = true;
    sender.join();
    receiver.join();
    for (long i = 0; i < sent.load(); ++i) {
      lost += answered[static_cast<size_t>(i)] ? 0 : 1;
    }
  }
};

TEST_F(RunE2e, HandoverRestartLosesNoQueriesPlainRestartIsMeasured) {
  NLD_ENTER_NETNS();
  setUpWorld();
  if (IsSkipped()) {
    return;
  }
  // --- hand-over: B starts beside A (SO_REUSEPORT), A gets SIGTERM and sees its successor.
  pid_t a = start(manifestArgs(), d_ + "/a.log");
  ASSERT_TRUE(waitServing(a));
  Client client;
  client.run("169.254.20.10");
  client.waitSent(1000);
  pid_t b = start(manifestArgs(), d_ + "/b.log");
  ASSERT_TRUE(waitServing(b));
  client.waitSent(client.sent.load() + 1000);
  ::kill(a, SIGTERM);
  EXPECT_EQ(waitExit(a, milliseconds(10000)), 0);
  client.finish(std::max<long>(5000, client.sent.load() + 1500));
  std::string alog = readFile(d_ + "/a.log").value_or("");
  EXPECT_NE(alog.find("handing over"), std::string::npos) << alog;
  std::printf("hand-over restart: %ld queries, %ld lost\n", client.sent.load(), client.lost);
  RecordProperty("handover_sent", std::to_string(client.sent.load()));
  RecordProperty("handover_lost", std::to_string(client.lost));
  EXPECT_GE(client.sent.load(), 5000);
  EXPECT_EQ(client.lost, 0);
  EXPECT_EQ(countOurRules(), 24);  // A left the rules and interface to B
  EXPECT_EQ(trim(readFile(d_ + "/node-cache.pid").value_or("")), std::to_string(b));

  // --- plain restart (upstream's behaviour): B tears down on SIGTERM, C starts after it exits.
  Client plain;
  plain.run("169.254.20.10");
  plain.waitSent(1000);
  auto t0 = Clock::now();
  ::kill(b, SIGTERM);
  EXPECT_EQ(waitExit(b, milliseconds(10000)), 0) << readFile(d_ + "/b.log").value_or("");
  pid_t c = start(manifestArgs(), d_ + "/c.log");
  ASSERT_TRUE(waitServing(c));
  auto gap = std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count();
  long sent_at_up = plain.sent.load();
  plain.finish(std::max<long>(5000, sent_at_up + 1500));
  std::printf(
      "plain SIGTERM restart: %ld queries, %ld lost, %lld ms from SIGTERM to successor "
      "serving\n",
      plain.sent.load(), plain.lost, static_cast<long long>(gap));
  RecordProperty("plain_sent", std::to_string(plain.sent.load()));
  RecordProperty("plain_lost", std::to_string(plain.lost));
  EXPECT_GT(plain.lost, 0);  // the point of hand-over
  ::kill(c, SIGTERM);
  EXPECT_EQ(waitExit(c, milliseconds(10000)), 0);
}

}  // namespace
}  // namespace nld::cli
