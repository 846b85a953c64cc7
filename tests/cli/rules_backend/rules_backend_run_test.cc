// `nodelocaldns run` with the nftables backend: it installs our table once it serves, removes our
// legacy rules (never both backends), repairs drift on its sync loop, and on SIGTERM removes the
// table and nothing else. `auto` logs the signal that decided. Each TEST in its own namespace.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "base/atomic_file.h"
#include "tests/support/netns.h"

namespace nld {
namespace {

using std::chrono::milliseconds;

bool waitFor(const std::function<bool()>& done, milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) {
      return true;
    }
    std::this_thread::sleep_for(milliseconds(20));  // polling an external process, with deadline
  }
  return done();
}

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

class RunNft : public ::testing::Test {
 protected:
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  void start(const std::vector<std::string>& extra) {
    std::vector<std::string> args = {NLD_TEST_BINARY,  "run",
                                     "-localip",       "169.254.20.10",
                                     "-basecorefile",  dir_.file("none/Corefile.base"),
                                     "-pidfile",       dir_.file("pid"),
                                     "-syncinterval",  "1s",
                                     "--xtables-lock", dir_.file("xtables.lock"),
                                     "--workers",      "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::string log = dir_.file("run.log");
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> argv;
      for (auto& a : args) {
        argv.push_back(a.data());
      }
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }

  std::string log() const { return readFile(dir_.file("run.log")).value_or(""); }
  static bool tableThere() {
    return test::run("nft list table inet nodelocaldns").out.find("raw-prerouting") !=
           std::string::npos;
  }
  static std::string legacy() { return test::run("iptables-legacy-save 2>/dev/null").out; }

  // `run` with auto on a node without any signal: legacy by default, our rules there.
  void startOnAnEmptyNode() {
    ::setenv("XTABLES_LOCKFILE", dir_.file("xtables.lock").c_str(), 1);
    ASSERT_EQ(test::run("ip link set lo up").exit_code, 0);
    start({});
    ASSERT_TRUE(waitFor([] { return contains(legacy(), "NodeLocal DNS"); }, milliseconds(10000)))
        << log();
    EXPECT_TRUE(contains(log(), "rules backend iptables (auto: default")) << log();
  }

  int stop() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    bool done =
        waitFor([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, milliseconds(15000));
    pid_ = -1;
    return done && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  test::TempDir dir_;
  pid_t pid_ = -1;
};

TEST_F(RunNft, InstallsCleansLegacyRepairsDriftAndTearsDown) {
  NLD_ENTER_NETNS();
  ::setenv("XTABLES_LOCKFILE", dir_.file("xtables.lock").c_str(), 1);
  ASSERT_EQ(test::run("ip link set lo up").exit_code, 0);
  ASSERT_EQ(test::run("nft 'add table inet filter; add chain inet filter input { type filter hook "
                      "input priority 0; }; add rule inet filter input tcp dport 22 accept'")
                .exit_code,
            0);
  // Left by an earlier legacy install (or upstream's agent).
  ASSERT_EQ(test::run("iptables-legacy -w -t raw -I PREROUTING -p udp -d 169.254.20.10 --dport 53 "
                      "-j NOTRACK -m comment --comment 'NodeLocal DNS Cache: skip conntrack'")
                .exit_code,
            0);
  std::string foreign = test::run("nft list table inet filter").out;

  start({"-rules-backend", "nftables"});  // single dash, as node-cache's flags
  ASSERT_TRUE(waitFor(tableThere, milliseconds(10000))) << log();
  EXPECT_TRUE(waitFor([] { return !contains(legacy(), "NodeLocal DNS"); }, milliseconds(5000)))
      << legacy() << log();
  EXPECT_TRUE(contains(log(), "rules backend nftables (--rules-backend)")) << log();
  EXPECT_TRUE(contains(log(), "removed 1 of our rules from the iptables backend")) << log();
  std::string table = test::run("nft list table inet nodelocaldns").out;

  // Drift: the sync loop (1 s) puts the table back exactly.
  ASSERT_EQ(test::run("nft delete table inet nodelocaldns").exit_code, 0);
  EXPECT_TRUE(waitFor(tableThere, milliseconds(5000))) << log();
  ASSERT_EQ(test::run("nft add rule inet nodelocaldns filter-input tcp dport 1 drop").exit_code, 0);
  EXPECT_TRUE(waitFor([&] { return test::run("nft list table inet nodelocaldns").out == table; },
                      milliseconds(5000)))
      << test::run("nft list table inet nodelocaldns").out;
  EXPECT_TRUE(contains(log(), "(nftables table rewritten)")) << log();

  EXPECT_EQ(stop(), 0) << log();
  EXPECT_NE(test::run("nft list table inet nodelocaldns").exit_code, 0);
  EXPECT_EQ(test::run("nft list table inet filter").out, foreign);
}

TEST_F(RunNft, AutoLogsTheDecidingSignal) {
  NLD_ENTER_NETNS();
  ASSERT_EQ(test::run("ip link set lo up").exit_code, 0);
  ASSERT_EQ(test::run("nft 'add table ip kube-proxy; add chain ip kube-proxy services'").exit_code,
            0);
  start({});
  ASSERT_TRUE(waitFor(tableThere, milliseconds(10000))) << log();
  EXPECT_TRUE(contains(log(),
                       "rules backend nftables (auto: nftables table 'ip kube-proxy' exists "
                       "(kube-proxy nftables mode))"))
      << log();
  // Nothing legacy was created on an nftables node.
  EXPECT_EQ(test::run("cat /proc/net/ip_tables_names 2>/dev/null").out, "");
  EXPECT_EQ(stop(), 0) << log();
  EXPECT_NE(test::run("nft list table inet nodelocaldns").exit_code, 0);
}

// A pod that starts before kubelet/kube-proxy made their iptables-nft hint chains finds no signal
// and falls back to legacy; once the hint appears, the next sync moves our rules to nftables and
// removes the legacy ones (never both backends for longer than one sync).
TEST_F(RunNft, AutoWithoutASignalMovesWhenOneAppears) {
  NLD_ENTER_NETNS();
  ASSERT_NO_FATAL_FAILURE(startOnAnEmptyNode());
  EXPECT_FALSE(tableThere());
  ASSERT_EQ(
      test::run("nft 'add table ip mangle; add chain ip mangle KUBE-KUBELET-CANARY'").exit_code, 0);
  EXPECT_TRUE(waitFor(tableThere, milliseconds(5000))) << log();
  EXPECT_TRUE(waitFor([] { return !contains(legacy(), "NodeLocal DNS"); }, milliseconds(5000)))
      << legacy() << log();
  EXPECT_TRUE(contains(log(), "rules backend nftables (auto, now: ")) << log();
  EXPECT_EQ(stop(), 0) << log();
  EXPECT_NE(test::run("nft list table inet nodelocaldns").exit_code, 0);
  EXPECT_FALSE(contains(legacy(), "NodeLocal DNS"));
}

// No hint chains, but a CNI already put rules into iptables-nft's `ip filter`: the rule counts
// (step 4b) choose nftables at start, and no legacy table is created.
TEST_F(RunNft, AutoByRuleCountAtStart) {
  NLD_ENTER_NETNS();
  ASSERT_EQ(test::run("ip link set lo up").exit_code, 0);
  ASSERT_EQ(test::run("nft 'add table ip filter; add chain ip filter FORWARD { type filter hook "
                      "forward priority 0; }; add rule ip filter FORWARD ip daddr 10.244.0.0/16 "
                      "accept'")
                .exit_code,
            0);
  start({});
  ASSERT_TRUE(waitFor(tableThere, milliseconds(10000))) << log();
  EXPECT_TRUE(
      contains(log(), "rules backend nftables (auto: rule counts: 1 iptables-nft vs 0 legacy)"))
      << log();
  EXPECT_EQ(test::run("cat /proc/net/ip_tables_names 2>/dev/null").out, "");
  EXPECT_EQ(stop(), 0) << log();
}

// From the legacy default, rule counts that appear later move our rules like any signal; after a
// decision by counts, only a stronger signal moves them again (no flapping while other agents
// add and delete rules), and our own rules never count.
TEST_F(RunNft, AutoRuleCountsMoveFromTheDefaultOnly) {
  NLD_ENTER_NETNS();
  ::setenv("XTABLES_LOCKFILE", dir_.file("xtables.lock").c_str(), 1);
  ASSERT_EQ(test::run("ip link set lo up").exit_code, 0);
  ASSERT_EQ(test::run("iptables-legacy -w -A INPUT -s 10.0.0.1 -j ACCEPT").exit_code, 0);
  start({});
  ASSERT_TRUE(waitFor([] { return contains(legacy(), "NodeLocal DNS"); }, milliseconds(10000)))
      << log();
  EXPECT_TRUE(contains(log(),
                       "rules backend iptables (auto: rule counts: 0 iptables-nft vs 1 "
                       "legacy)"))
      << log();
  // iptables-nft now holds more rules than legacy: counts alone do not move us. Two syncs (1 s
  // each) pass without a table appearing.
  ASSERT_EQ(test::run("nft 'add table ip filter; add chain ip filter FORWARD { type filter hook "
                      "forward priority 0; }; add rule ip filter FORWARD ip daddr 10.1.0.0/16 "
                      "accept; add rule ip filter FORWARD ip daddr 10.2.0.0/16 accept'")
                .exit_code,
            0);
  EXPECT_FALSE(waitFor(tableThere, milliseconds(2500))) << log();
  // A hint chain does.
  ASSERT_EQ(
      test::run("nft 'add table ip mangle; add chain ip mangle KUBE-IPTABLES-HINT'").exit_code, 0);
  EXPECT_TRUE(waitFor(tableThere, milliseconds(5000))) << log();
  EXPECT_TRUE(waitFor([] { return !contains(legacy(), "NodeLocal DNS"); }, milliseconds(5000)))
      << legacy() << log();
  EXPECT_TRUE(contains(log(), "rules backend nftables (auto, now: chain KUBE-IPTABLES-HINT"))
      << log();
  EXPECT_EQ(stop(), 0) << log();
}

// The pod started on an empty node (legacy by default, our 12 legacy rules do not count); a CNI
// then fills iptables-nft's tables: the next sync moves our rules to nftables.
TEST_F(RunNft, AutoDefaultMovesWhenIptablesNftRulesAppear) {
  NLD_ENTER_NETNS();
  ASSERT_NO_FATAL_FAILURE(startOnAnEmptyNode());
  ASSERT_EQ(test::run("nft 'add table ip nat; add chain ip nat POSTROUTING { type nat hook "
                      "postrouting priority 100; }; add rule ip nat POSTROUTING ip saddr "
                      "10.244.0.0/16 masquerade'")
                .exit_code,
            0);
  EXPECT_TRUE(waitFor(tableThere, milliseconds(5000))) << log();
  EXPECT_TRUE(waitFor([] { return !contains(legacy(), "NodeLocal DNS"); }, milliseconds(5000)))
      << legacy() << log();
  EXPECT_TRUE(contains(log(),
                       "rules backend nftables (auto, now: rule counts: 1 iptables-nft vs 0 "
                       "legacy)"))
      << log();
  EXPECT_EQ(stop(), 0) << log();
}

}  // namespace
}  // namespace nld
