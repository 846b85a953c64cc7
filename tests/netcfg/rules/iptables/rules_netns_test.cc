// ensureRules / removeRules / checkRules against the kernel, each TEST in its own network
// namespace, with iptables-legacy as the oracle (golden save text, -C with upstream's args) and as
// the "other agent" (upstream's -I sequence, foreign rules, injected duplicates).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "netcfg/rules/iptables/iptc_table.h"
#include "netcfg/rules/iptables/xtables_lock.h"
#include "netcfg/rules/rules.h"
#include "tests/support/netns.h"
#include "tests/support/rules_test_util.h"

namespace nld::netcfg {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

const RuleSpec kOneV4{{ip("169.254.20.10")}, 53, 8080};
const RuleSpec kTwoV4{{ip("169.254.20.10"), ip("10.96.0.10")}, 53, 8080};
const RuleSpec kOneV6{{ip("fd00::10")}, 53, 8080};

// Per-test lock file, also used by the iptables binary (XTABLES_LOCKFILE), so nothing here waits
// on the host's /run/xtables.lock.
class RulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.lock_path = dir_.file("xtables.lock");
    ::setenv("XTABLES_LOCKFILE", options_.lock_path.c_str(), 1);
  }

  static test::CommandResult sh(const std::string& cmd) { return test::run(cmd); }

  static std::string bin(Family f) {
    return f == Family::kV4 ? "iptables-legacy" : "ip6tables-legacy";
  }

  static std::string quote(const std::string& s) { return "'" + s + "'"; }

  // `<bin> -w 5 <op> <chain> -t <table> <upstream args>` exactly as node-cache runs it.
  static test::CommandResult binary(const std::string& op, const Rule& r) {
    std::string cmd = bin(r.family) + " -w 5 " + op + " " + r.chain + " -t " + r.table;
    for (const auto& a : r.toArgv()) {
      cmd += " " + quote(a);
    }
    return sh(cmd);
  }

  static void upstreamInstall(Family f, const std::string& ips) {
    auto r =
        sh(test::sourcePath("tests/netcfg/rules/upstream_install.sh") + " " + bin(f) + " " + ips);
    ASSERT_EQ(r.exit_code, 0) << r.out;
  }

  static int ruleLines(const std::string& save) {
    int n = 0;
    for (size_t at = 0; (at = save.find("\n-A ", at)) != std::string::npos; ++at) {
      ++n;
    }
    return n;
  }

  RulesReport ensure(const RuleSpec& spec) {
    auto r = ensureRules(spec, options_);
    EXPECT_TRUE(r.has_value()) << r.error().message();
    return r.value_or(RulesReport{});
  }

  test::TempDir dir_;
  RulesOptions options_;
};

TEST_F(RulesTest, GoldenOneIpv4) {
  NLD_ENTER_NETNS();
  RulesReport rep = ensure(kOneV4);
  EXPECT_EQ(rep.inserted, 12);
  EXPECT_EQ(rep.already_present, 0);
  EXPECT_EQ(test::saveTable("iptables-legacy", "raw"), test::golden("iptables-one-v4-raw.save"));
  EXPECT_EQ(test::saveTable("iptables-legacy", "filter"),
            test::golden("iptables-one-v4-filter.save"));
}

TEST_F(RulesTest, GoldenTwoIpv4) {
  NLD_ENTER_NETNS();
  EXPECT_EQ(ensure(kTwoV4).inserted, 24);
  EXPECT_EQ(test::saveTable("iptables-legacy", "raw"), test::golden("iptables-two-v4-raw.save"));
  EXPECT_EQ(test::saveTable("iptables-legacy", "filter"),
            test::golden("iptables-two-v4-filter.save"));
}

TEST_F(RulesTest, GoldenIpv6) {
  NLD_ENTER_NETNS();
  EXPECT_EQ(ensure(kOneV6).inserted, 12);
  EXPECT_EQ(test::saveTable("ip6tables-legacy", "raw"), test::golden("ip6tables-one-v6-raw.save"));
  EXPECT_EQ(test::saveTable("ip6tables-legacy", "filter"),
            test::golden("ip6tables-one-v6-filter.save"));
}

TEST_F(RulesTest, DualStackInOneCall) {
  NLD_ENTER_NETNS();
  EXPECT_EQ(ensure({{ip("169.254.20.10"), ip("fd00::10")}, 53, 8080}).inserted, 24);
  EXPECT_EQ(test::saveTable("iptables-legacy", "raw"), test::golden("iptables-one-v4-raw.save"));
  EXPECT_EQ(test::saveTable("iptables-legacy", "filter"),
            test::golden("iptables-one-v4-filter.save"));
  EXPECT_EQ(test::saveTable("ip6tables-legacy", "raw"), test::golden("ip6tables-one-v6-raw.save"));
  EXPECT_EQ(test::saveTable("ip6tables-legacy", "filter"),
            test::golden("ip6tables-one-v6-filter.save"));
}

// The oracle behind the golden files: the binary with upstream's sequence gives the same text.
TEST_F(RulesTest, UpstreamBinarySequenceMatchesGolden) {
  NLD_ENTER_NETNS();
  upstreamInstall(Family::kV4, "169.254.20.10 10.96.0.10");
  EXPECT_EQ(test::saveTable("iptables-legacy", "raw"), test::golden("iptables-two-v4-raw.save"));
  EXPECT_EQ(test::saveTable("iptables-legacy", "filter"),
            test::golden("iptables-two-v4-filter.save"));
}

TEST_F(RulesTest, EnsureThousandTimesKeepsTwelvePerAddress) {
  NLD_ENTER_NETNS();
  auto start = Clock::now();
  for (int i = 0; i < 1000; ++i) {
    auto r = ensureRules(kTwoV4, options_);
    ASSERT_TRUE(r.has_value()) << r.error().message();
    if (i > 0) {
      ASSERT_EQ(r->inserted, 0);
      ASSERT_EQ(r->already_present, 24);
    }
  }
  auto ms = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
  std::cout << "[measure] 1000 x ensureRules(2 IPv4 addresses, 24 rules): " << ms << " ms\n";
  RecordProperty("ensure_1000_ms", static_cast<int>(ms));
  EXPECT_EQ(ruleLines(test::saveTable("iptables-legacy", "raw")), 16);
  EXPECT_EQ(ruleLines(test::saveTable("iptables-legacy", "filter")), 8);
  auto status = checkRules(kTwoV4, options_);
  ASSERT_TRUE(status.has_value()) << status.error().message();
  ASSERT_EQ(status->size(), 24u);
  for (const auto& s : *status) {
    EXPECT_EQ(s.copies, 1) << s.rule.toSaveLine();
  }
  EXPECT_EQ(test::saveTable("iptables-legacy", "raw"), test::golden("iptables-two-v4-raw.save"));
}

// Time for one ensure on an empty namespace and for one when everything exists (steady state).
TEST_F(RulesTest, MeasureEnsureCost) {
  NLD_ENTER_NETNS();
  RuleSpec dual{{ip("169.254.20.10"), ip("fd00::10")}, 53, 8080};
  auto t0 = Clock::now();
  ASSERT_EQ(ensure(dual).inserted, 24);
  auto first_us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
  constexpr int kRounds = 200;
  auto t1 = Clock::now();
  for (int i = 0; i < kRounds; ++i) {
    ASSERT_EQ(ensure(dual).already_present, 24);
  }
  auto steady_us =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t1).count() / kRounds;
  std::cout << "[measure] first ensure (empty netns, v4+v6, 24 rules, 4 commits): " << first_us
            << " us; steady-state ensure (all present, no commit): " << steady_us << " us\n";
  RecordProperty("first_ensure_us", static_cast<int>(first_us));
  RecordProperty("steady_ensure_us", static_cast<int>(steady_us));
}

// The same on a busy node: 10,000 foreign rules in filter (kube-proxy-sized), which libiptc
// reads whole on every session and rewrites whole on every commit.
TEST_F(RulesTest, MeasureEnsureCostWithTenThousandForeignRules) {
  NLD_ENTER_NETNS();
  std::string restore = "*filter\n:KUBE-BIG - [0:0]\n-A INPUT -j KUBE-BIG\n";
  for (int i = 0; i < 10000; ++i) {
    restore += "-A KUBE-BIG -d 10." + std::to_string(i / 250) + "." + std::to_string(i % 250) +
               ".1/32 -p tcp -m tcp --dport 80 -j ACCEPT\n";
  }
  restore += "COMMIT\n";
  std::string file = dir_.file("big.rules");
  {
    FILE* f = std::fopen(file.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(restore.c_str(), f);
    std::fclose(f);
  }
  auto r = sh("iptables-legacy-restore -w 5 " + file);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto t0 = Clock::now();
  ASSERT_EQ(ensure(kOneV4).inserted, 12);
  auto first_us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
  constexpr int kRounds = 20;
  auto t1 = Clock::now();
  for (int i = 0; i < kRounds; ++i) {
    ASSERT_EQ(ensure(kOneV4).already_present, 12);
  }
  auto steady_us =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t1).count() / kRounds;
  std::cout << "[measure] 10000 foreign filter rules, one IPv4 address: first ensure " << first_us
            << " us; steady-state ensure " << steady_us << " us\n";
  RecordProperty("big_first_ensure_us", static_cast<int>(first_us));
  RecordProperty("big_steady_ensure_us", static_cast<int>(steady_us));
  EXPECT_EQ(ruleLines(test::saveTable("iptables-legacy", "filter")), 10000 + 1 + 4);
}

TEST_F(RulesTest, BinaryCheckWithUpstreamArgsFindsOurRules) {
  NLD_ENTER_NETNS();
  RuleSpec dual{{ip("169.254.20.10"), ip("fd00::10")}, 53, 8080};
  ensure(dual);
  for (const Rule& r : nodeLocalDnsRules(dual)) {
    auto c = binary("-C", r);
    EXPECT_EQ(c.exit_code, 0) << r.where() << " " << r.toArgs() << ": " << c.out;
  }
  // And -C really discriminates: another port is not found.
  Rule other = nodeLocalDnsRules(kOneV4)[0];
  other.destination_port = 54;
  EXPECT_EQ(binary("-C", other).exit_code, 1);
}

TEST_F(RulesTest, RulesMadeByTheBinaryAreAdoptedThenRemoved) {
  NLD_ENTER_NETNS();
  upstreamInstall(Family::kV4, "169.254.20.10 10.96.0.10");
  upstreamInstall(Family::kV6, "fd00::10");
  RuleSpec all{{ip("169.254.20.10"), ip("10.96.0.10"), ip("fd00::10")}, 53, 8080};
  std::string before4 = test::saveAll("iptables-legacy");
  std::string before6 = test::saveAll("ip6tables-legacy");
  RulesReport rep = ensure(all);
  EXPECT_EQ(rep.inserted, 0);
  EXPECT_EQ(rep.duplicates_removed, 0);
  EXPECT_EQ(rep.already_present, 36);
  EXPECT_EQ(test::saveAll("iptables-legacy"), before4);
  EXPECT_EQ(test::saveAll("ip6tables-legacy"), before6);

  auto removed = removeRules(all, options_);
  ASSERT_TRUE(removed.has_value()) << removed.error().message();
  EXPECT_EQ(removed->removed, 36);
  EXPECT_EQ(ruleLines(test::saveAll("iptables-legacy")), 0);
  EXPECT_EQ(ruleLines(test::saveAll("ip6tables-legacy")), 0);
  for (const Rule& r : nodeLocalDnsRules(all)) {
    EXPECT_EQ(binary("-C", r).exit_code, 1) << r.toArgs();
  }
}

TEST_F(RulesTest, ForeignRulesSurviveEnsureAndRemoveByteIdentically) {
  NLD_ENTER_NETNS();
  for (
      const char* cmd : {
          "iptables-legacy -w -A INPUT -p tcp --dport 22 -j ACCEPT",
          "iptables-legacy -w -N FOREIGN",
          "iptables-legacy -w -A FOREIGN -s 10.0.0.0/8 -j RETURN",
          "iptables-legacy -w -I INPUT -c 7 700 -j FOREIGN",  // counters must survive too
          "iptables-legacy -w -P FORWARD DROP",
          // Look-alikes: same shape but another comment / port / address / interface.
          "iptables-legacy -w -t raw -A PREROUTING -p udp -d 169.254.20.10 --dport 53 -j NOTRACK "
          "-m comment --comment other",
          "iptables-legacy -w -t raw -A PREROUTING -p udp -d 169.254.20.10 --dport 5353 -j NOTRACK "
          "-m comment --comment 'NodeLocal DNS Cache: skip conntrack'",
          "iptables-legacy -w -t raw -A OUTPUT -o lo -p udp -d 169.254.20.10 --dport 53 -j NOTRACK "
          "-m comment --comment 'NodeLocal DNS Cache: skip conntrack'",
          "iptables-legacy -w -A OUTPUT -p udp -s 169.254.20.11 --sport 53 -j ACCEPT "
          "-m comment --comment 'NodeLocal DNS Cache: allow DNS traffic'",
          "ip6tables-legacy -w -A INPUT -p tcp --dport 22 -j ACCEPT",
          // Instantiate the (empty) raw table: save lists only tables that exist.
          "ip6tables-legacy -w -t raw -S >/dev/null",
      }) {
    auto r = sh(cmd);
    ASSERT_EQ(r.exit_code, 0) << cmd << ": " << r.out;
  }
  std::string before4 = test::saveAll("iptables-legacy");
  std::string before6 = test::saveAll("ip6tables-legacy");
  std::string before4_counters = test::normaliseSave(sh("iptables-legacy-save -c").out);
  RuleSpec dual{{ip("169.254.20.10"), ip("fd00::10")}, 53, 8080};
  RulesReport rep = ensure(dual);
  EXPECT_EQ(rep.inserted, 24);
  EXPECT_EQ(rep.duplicates_removed, 0);
  // Ours sit on top; everything foreign follows in its old order.
  std::string filter = test::saveTable("iptables-legacy", "filter");
  EXPECT_LT(filter.find("allow DNS traffic"), filter.find("-A INPUT -j FOREIGN"));
  EXPECT_NE(filter.find(":FORWARD DROP"), std::string::npos);

  auto removed = removeRules(dual, options_);
  ASSERT_TRUE(removed.has_value()) << removed.error().message();
  EXPECT_EQ(removed->removed, 24);
  EXPECT_EQ(test::saveAll("iptables-legacy"), before4);
  EXPECT_EQ(test::saveAll("ip6tables-legacy"), before6);
  // Raw, with counters: libiptc carries the foreign rules' counters through both commits.
  EXPECT_EQ(test::normaliseSave(sh("iptables-legacy-save -c").out), before4_counters);
  EXPECT_NE(before4_counters.find("[7:700] -A INPUT -j FOREIGN"), std::string::npos)
      << before4_counters;
}

TEST_F(RulesTest, DuplicatesFromTheBinaryAreCollapsed) {
  NLD_ENTER_NETNS();
  ensure(kOneV4);
  auto rules = nodeLocalDnsRules(kOneV4);
  // kubernetes/dns#568: a flaky -C made the checker add copies. Two at the bottom (-A), three on
  // top (-I), one twice.
  ASSERT_EQ(binary("-A", rules[1]).exit_code, 0);
  ASSERT_EQ(binary("-A", rules[7]).exit_code, 0);
  ASSERT_EQ(binary("-I", rules[4]).exit_code, 0);
  ASSERT_EQ(binary("-I", rules[4]).exit_code, 0);
  ASSERT_EQ(binary("-I", rules[2]).exit_code, 0);
  RulesReport rep = ensure(kOneV4);
  EXPECT_EQ(rep.duplicates_removed, 5);
  EXPECT_EQ(rep.inserted, 0);
  auto status = checkRules(kOneV4, options_);
  ASSERT_TRUE(status.has_value());
  for (const auto& s : *status) {
    EXPECT_EQ(s.copies, 1) << s.rule.toSaveLine();
  }
  EXPECT_EQ(ensure(kOneV4).duplicates_removed, 0);

  // Copies appended at the bottom go without changing the order: back to the golden text.
  ensure(kOneV4);
  ASSERT_EQ(binary("-A", rules[0]).exit_code, 0);
  ASSERT_EQ(binary("-A", rules[10]).exit_code, 0);
  auto removed = removeRules(kOneV4, options_);
  ASSERT_TRUE(removed.has_value());
  EXPECT_EQ(removed->removed, 14);
  ensure(kOneV4);
  ASSERT_EQ(binary("-A", rules[0]).exit_code, 0);
  ASSERT_EQ(binary("-A", rules[10]).exit_code, 0);
  EXPECT_EQ(ensure(kOneV4).duplicates_removed, 2);
  EXPECT_EQ(test::saveTable("iptables-legacy", "raw"), test::golden("iptables-one-v4-raw.save"));
}

TEST_F(RulesTest, MissingRulesAreRestoredNextToTheRest) {
  NLD_ENTER_NETNS();
  ensure(kOneV4);
  auto rules = nodeLocalDnsRules(kOneV4);
  ASSERT_EQ(binary("-D", rules[9]).exit_code, 0);  // a rule in the middle of raw OUTPUT
  ASSERT_EQ(sh("iptables-legacy -w -t filter -F INPUT").exit_code, 0);  // a firewall flush
  RulesReport rep = ensure(kOneV4);
  EXPECT_EQ(rep.inserted, 3);
  EXPECT_EQ(rep.already_present, 9);
  EXPECT_EQ(test::saveTable("iptables-legacy", "raw"), test::golden("iptables-one-v4-raw.save"));
  EXPECT_EQ(test::saveTable("iptables-legacy", "filter"),
            test::golden("iptables-one-v4-filter.save"));
}

TEST_F(RulesTest, RulesBelowSomeoneElsesAreLeftWhereTheyAre) {
  NLD_ENTER_NETNS();
  ensure(kOneV4);
  // kube-proxy / a CNI inserts its jump at position 1 afterwards: no move, no flapping.
  ASSERT_EQ(
      sh("iptables-legacy -w -N KUBE-FIREWALL && iptables-legacy -w -I INPUT -j KUBE-FIREWALL")
          .exit_code,
      0);
  std::string before = test::saveAll("iptables-legacy");
  RulesReport rep = ensure(kOneV4);
  EXPECT_EQ(rep.inserted, 0);
  EXPECT_EQ(rep.already_present, 12);
  EXPECT_EQ(test::saveAll("iptables-legacy"), before);
}

TEST_F(RulesTest, HeldLockDelaysEnsureThenSucceeds) {
  NLD_ENTER_NETNS();
  test::LockHolder holder(options_.lock_path, milliseconds(400));
  auto start = Clock::now();
  auto r = ensureRules(kOneV4, options_);
  auto took = Clock::now() - start;
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->inserted, 12);
  EXPECT_GE(took, milliseconds(300));
}

TEST_F(RulesTest, HeldLockTimesOutAsBusyAndChangesNothing) {
  NLD_ENTER_NETNS();
  test::LockHolder holder(options_.lock_path, milliseconds(-1));
  options_.lock_timeout = milliseconds(250);
  auto r = ensureRules(kOneV4, options_);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Errc::kBusy);
  EXPECT_EQ(r.error().message(), "ensure rules: xtables lock '" + options_.lock_path +
                                     "' held by another process for 250ms");
  EXPECT_EQ(ruleLines(test::saveAll("iptables-legacy")), 0);
  auto rm = removeRules(kOneV4, options_);
  ASSERT_FALSE(rm.has_value());
  EXPECT_EQ(rm.error().code(), Errc::kBusy);
}

// Same lock as the binary: while our kind of holder (flock LOCK_EX) has the file, iptables-legacy
// waits for it too and gives up with its own "holding the xtables lock" message.
TEST_F(RulesTest, TheBinaryHonoursTheSameLock) {
  NLD_ENTER_NETNS();
  {
    test::LockHolder holder(options_.lock_path, milliseconds(-1));
    auto r = sh("iptables-legacy -w 1 -A INPUT -p tcp --dport 22 -j ACCEPT");
    EXPECT_EQ(r.exit_code, 4) << r.out;
    EXPECT_NE(r.out.find("holding the xtables lock"), std::string::npos) << r.out;
  }
  auto held = XtablesLock::acquire(options_.lock_path, milliseconds(100));
  ASSERT_TRUE(held.has_value());
  auto r = sh("iptables-legacy -w 1 -A INPUT -p tcp --dport 22 -j ACCEPT");
  EXPECT_EQ(r.exit_code, 4) << r.out;
}

// libiptc replaces whole tables from a snapshot: without the shared lock, commits racing the
// binary's fail (the kernel rejects a replace built on a stale read with EAGAIN) or lose changes —
// this test fails within a few runs when the binary is pointed at another lock file. Interleave
// 100 ensure/remove cycles (200 commits per table) with 300 appends by iptables-legacy; all
// succeed and nothing is lost.
TEST_F(RulesTest, ConcurrentBinaryChangesAreNotLost) {
  NLD_ENTER_NETNS();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c",
            "for i in $(seq 1000 1299); do "
            "iptables-legacy -w 10 -A FORWARD -p tcp --dport $i -j ACCEPT || exit 1; done",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ASSERT_GT(pid, 0);
  int cycles = 0;
  int status = 0;
  for (; cycles < 100; ++cycles) {
    ASSERT_EQ(ensure(kOneV4).inserted, 12);
    auto r = removeRules(kOneV4, options_);
    ASSERT_TRUE(r.has_value()) << r.error().message();
    ASSERT_EQ(r->removed, 12);
  }
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(ensure(kOneV4).inserted, 12);
  std::string filter = test::saveTable("iptables-legacy", "filter");
  int forward = 0;
  for (size_t at = 0; (at = filter.find("\n-A FORWARD ", at)) != std::string::npos; ++at) {
    ++forward;
  }
  EXPECT_EQ(forward, 300);
  EXPECT_EQ(ruleLines(filter), 300 + 4);
}

TEST_F(RulesTest, CheckRulesCountsCopies) {
  NLD_ENTER_NETNS();
  auto none = checkRules(kOneV6, options_);
  ASSERT_TRUE(none.has_value()) << none.error().message();
  ASSERT_EQ(none->size(), 12u);
  for (const auto& s : *none) {
    EXPECT_EQ(s.copies, 0);
  }
  upstreamInstall(Family::kV6, "fd00::10");
  auto rules = nodeLocalDnsRules(kOneV6);
  ASSERT_EQ(binary("-A", rules[3]).exit_code, 0);
  auto some = checkRules(kOneV6, options_);
  ASSERT_TRUE(some.has_value());
  for (size_t i = 0; i < some->size(); ++i) {
    EXPECT_EQ((*some)[i].copies, i == 3 ? 2 : 1) << i;
  }
}

// Without CAP_NET_ADMIN/CAP_NET_RAW: one clear line, kPermissionDenied, no crash.
TEST_F(RulesTest, WithoutPrivilegesTheErrorSaysSo) {
  NLD_ENTER_NETNS();
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipefd[0]);
    std::string out;
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) {
      out = "setuid failed";
    } else {
      options_.lock_path = "/tmp/nld-rules-test-nobody-" + std::to_string(::getpid()) + ".lock";
      auto r = ensureRules(kOneV4, options_);
      ::unlink(options_.lock_path.c_str());
      out = r ? "succeeded"
              : std::to_string(static_cast<int>(r.error().code())) + " " + r.error().message();
    }
    (void)!::write(pipefd[1], out.data(), out.size());
    ::_exit(0);
  }
  ::close(pipefd[1]);
  std::string got;
  char buf[512];
  for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof(buf))) > 0;) {
    got.append(buf, static_cast<size_t>(n));
  }
  ::close(pipefd[0]);
  ::waitpid(pid, nullptr, 0);
  EXPECT_EQ(got,
            std::to_string(static_cast<int>(Errc::kPermissionDenied)) +
                " ensure rules: iptables table 'raw': open: Permission denied (you must be root)");
}

// IptcTable is a transaction: dropped without commit, the kernel never sees the changes.
TEST_F(RulesTest, IptcTableWithoutCommitIsARollback) {
  NLD_ENTER_NETNS();
  ASSERT_EQ(sh("iptables-legacy -w -t raw -S").exit_code, 0);  // instantiate the table
  std::string before = test::saveAll("iptables-legacy");
  auto rules = nodeLocalDnsRules(kOneV4);
  {
    auto table = IptcTable::open(Family::kV4, "raw");
    ASSERT_TRUE(table.has_value()) << table.error().message();
    ASSERT_TRUE(table->insert("PREROUTING", rules[0], 0).has_value());
    EXPECT_TRUE(table->dirty());
    auto listed = table->listChain("PREROUTING");
    ASSERT_TRUE(listed.has_value());
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ((*listed)[0], rules[0]);  // decodes what it just encoded
  }
  EXPECT_EQ(test::saveAll("iptables-legacy"), before);
}

TEST_F(RulesTest, IptcTableErrorsNameTableChainAndCause) {
  NLD_ENTER_NETNS();
  auto table = IptcTable::open(Family::kV6, "filter");
  ASSERT_TRUE(table.has_value()) << table.error().message();
  auto missing = table->listChain("NO-SUCH-CHAIN");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), Errc::kNotFound);
  EXPECT_EQ(missing.error().message(), "ip6tables table 'filter': chain 'NO-SUCH-CHAIN' not found");
  auto bad = table->erase("INPUT", 5);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message().rfind("ip6tables table 'filter': delete rule 6 of 'INPUT': ", 0),
            0u)
      << bad.error().message();
  auto nope = IptcTable::open(Family::kV4, "no_such_table");
  ASSERT_FALSE(nope.has_value());
  EXPECT_EQ(nope.error().message().rfind("iptables table 'no_such_table': open: ", 0), 0u)
      << nope.error().message();
}

TEST_F(RulesTest, EmptySpecDoesNothing) {
  NLD_ENTER_NETNS();
  RulesReport rep = ensure({});
  EXPECT_EQ(rep.inserted + rep.already_present, 0);
}

}  // namespace
}  // namespace nld::netcfg
