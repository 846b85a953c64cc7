// The node workflows with the nftables rules backend: install puts the rules in `table inet
// nodelocaldns` (never in legacy x_tables), status says which backend holds them and flags mixed
// backends, teardown cleans both and leaves `nft list ruleset` exactly as it was. `auto` follows
// the host's signal. Each TEST in its own network namespace.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "base/atomic_file.h"
#include "tests/support/netns.h"

namespace nld {
namespace {

const char* kUpstream = "10.96.0.11";  // kube-dns-upstream stand-in: nsd on this address

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

std::string sh(const std::string& cmd) { return test::run(cmd).out; }

// Everything the rules could touch: the whole nft ruleset, the legacy tables that exist and the
// links/addresses.
std::string snapshot() {
  return sh(
      "nft list ruleset; echo ---; cat /proc/net/ip_tables_names /proc/net/ip6_tables_names "
      "2>/dev/null; echo ---; ip -br addr");
}

std::string legacyRules() {
  return sh("iptables-legacy-save 2>/dev/null; ip6tables-legacy-save 2>/dev/null");
}

class Node {
 public:
  explicit Node(bool stand_in) : stand_in_(stand_in) {}
  ~Node() {
    test::run("[ -f " + dir_.file("pid") + " ] && kill -9 $(cat " + dir_.file("pid") + ")");
    test::run("[ -f " + dir_.file("pid.child") + " ] && kill -9 $(cat " + dir_.file("pid.child") +
              ")");
    test::run("[ -f " + dir_.file("nsd.pid") + " ] && kill $(cat " + dir_.file("nsd.pid") + ")");
  }
  std::string paths() const {
    return " --state-file " + dir_.file("state/state") + " --pidfile " + dir_.file("pid") +
           " --xtables-lock " + dir_.file("xtables.lock");
  }
  test::CommandResult install(const std::string& extra) const {
    std::string daemon =
        stand_in_ ? " --daemon-exe " + test::sourcePath("tests/cli/node/fake_run.sh") : "";
    return nld("install --mode iptables --kube-dns 10.96.0.10 --cluster-upstream " +
               std::string(kUpstream) + " --config-dir " + dir_.file("etc") + " --run-dir " +
               dir_.file("run") + " --log-file " + dir_.file("daemon.log") + " --kubelet-config " +
               dir_.file("kubelet.yaml") + " --upstream-servers " + kUpstream + " --wait 20" +
               paths() + daemon + " " + extra);
  }
  test::CommandResult nld(const std::string& args) const {
    return test::run(std::string(NLD_TEST_BINARY) + " " + args);
  }
  std::string log() const { return sh("cat " + dir_.file("daemon.log")); }

  bool startNsd() const {
    std::string zone =
        "$ORIGIN cluster.local.\n$TTL 30\n"
        "@ IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5\n"
        "@ IN NS ns.dns.cluster.local.\nns.dns IN A 10.96.0.10\n"
        "svc1.default.svc IN A 10.96.7.7\n";
    std::string conf = "server:\n  ip-address: " + std::string(kUpstream) +
                       "\n  port: 53\n  username: \"\"\n  chroot: \"\"\n  zonesdir: \"" +
                       dir_.path() + "\"\n  database: \"\"\n  pidfile: \"" + dir_.file("nsd.pid") +
                       "\"\n  xfrdfile: \"" + dir_.file("xfrd.state") + "\"\n  zonelistfile: \"" +
                       dir_.file("zone.list") + "\"\n  server-count: 1\n  logfile: \"" +
                       dir_.file("nsd.log") +
                       "\"\nremote-control:\n  control-enable: no\nzone:\n  name: cluster.local\n"
                       "  zonefile: cluster.local.zone\n";
    if (test::run("ip addr add " + std::string(kUpstream) + "/32 dev lo").exit_code != 0 ||
        !writeFileAtomic(dir_.file("cluster.local.zone"), zone) ||
        !writeFileAtomic(dir_.file("nsd.conf"), conf) ||
        test::run("nsd -c " + dir_.file("nsd.conf")).exit_code != 0) {
      return false;
    }
    for (int i = 0; i < 100; ++i) {
      if (contains(sh("dig +short +time=1 +tries=1 @" + std::string(kUpstream) +
                      " svc1.default.svc.cluster.local"),
                   "10.96.7.7")) {
        return true;
      }
    }
    return false;
  }

 private:
  test::TempDir dir_;
  bool stand_in_;
};

// A host firewall table that must come through untouched.
void addHostFirewall() {
  test::run(
      "nft 'add table inet filter; add chain inet filter input { type filter hook input priority "
      "0; policy accept; }; add rule inet filter input tcp dport 22 accept'");
}

class NftWorkflow : public ::testing::TestWithParam<bool> {};

TEST_P(NftWorkflow, InstallStatusTeardownLeavesTheRulesetAsItWas) {
  NLD_ENTER_NETNS();
  Node node(GetParam());
  ASSERT_TRUE(node.startNsd());
  addHostFirewall();
  std::string before = snapshot();

  auto r = node.install("--rules-backend nftables");
  ASSERT_EQ(r.exit_code, 0) << r.out << node.log();
  EXPECT_TRUE(contains(r.out, "rules backend: nftables (--rules-backend nftables)")) << r.out;
  EXPECT_TRUE(contains(r.out, "rules: 24 present")) << r.out;
  std::string table = sh("nft list table inet nodelocaldns");
  EXPECT_EQ(test::run("nft list table inet nodelocaldns | grep -c 'NodeLocal DNS Cache'").out,
            "24\n")
      << table;
  EXPECT_TRUE(contains(table, "ip daddr 10.96.0.10 udp dport 53 notrack")) << table;
  EXPECT_TRUE(contains(sh("dig +short +time=2 +tries=2 @10.96.0.10 svc1.default.svc.cluster.local"),
                       "10.96.7.7"));
  // No legacy table was created on the way.
  EXPECT_EQ(sh("cat /proc/net/ip_tables_names /proc/net/ip6_tables_names 2>/dev/null"), "");

  auto status = node.nld("status --json" + node.paths());
  EXPECT_EQ(status.exit_code, 0) << status.out;
  EXPECT_TRUE(contains(status.out, "\"rules_backend\":{\"name\":\"nftables\"")) << status.out;
  EXPECT_TRUE(contains(status.out, "\"other_backend_rules\":0")) << status.out;
  EXPECT_TRUE(contains(status.out,
                       "\"rule\":\"raw-prerouting: ip daddr 169.254.20.10 tcp dport "
                       "53 notrack"))
      << status.out;
  auto text = node.nld("status" + node.paths());
  EXPECT_TRUE(contains(text.out, "rules (nftables, --rules-backend nftables):")) << text.out;

  auto again = node.install("--rules-backend nftables");
  EXPECT_EQ(again.exit_code, 0) << again.out;
  EXPECT_TRUE(contains(again.out, "nothing changed")) << again.out;
  EXPECT_EQ(sh("nft list table inet nodelocaldns"), table);

  auto down = node.nld("teardown" + node.paths());
  EXPECT_EQ(down.exit_code, 0) << down.out;
  EXPECT_TRUE(contains(down.out, "removed 24 rule(s)")) << down.out;
  EXPECT_EQ(snapshot(), before);
}

TEST_P(NftWorkflow, AutoFollowsTheIptablesNftHint) {
  NLD_ENTER_NETNS();
  Node node(GetParam());
  ASSERT_TRUE(node.startNsd());
  test::run("nft 'add table ip mangle; add chain ip mangle KUBE-KUBELET-CANARY'");
  std::string before = snapshot();
  auto r = node.install("");
  ASSERT_EQ(r.exit_code, 0) << r.out << node.log();
  EXPECT_TRUE(contains(r.out,
                       "rules backend: nftables (chain KUBE-KUBELET-CANARY in nftables table 'ip "
                       "mangle' (iptables-nft))"))
      << r.out;
  EXPECT_EQ(test::run("nft list table inet nodelocaldns").exit_code, 0);
  EXPECT_FALSE(contains(legacyRules(), "NodeLocal DNS")) << legacyRules();
  if (!GetParam()) {
    // The real daemon got the choice on its command line, not a second guess. (install returns
    // once the daemon answers; it logs the backend a moment later, before its first ensure.)
    bool logged = false;
    for (int i = 0; i < 250 && !logged; ++i) {
      logged = contains(node.log(), "rules backend nftables (--rules-backend)");
      if (!logged) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    EXPECT_TRUE(logged) << node.log();
  }
  auto down = node.nld("teardown" + node.paths());
  EXPECT_EQ(down.exit_code, 0) << down.out;
  EXPECT_EQ(snapshot(), before);
}

TEST_P(NftWorkflow, SwitchingBackendsMovesTheRulesAndStatusFlagsMixing) {
  NLD_ENTER_NETNS();
  Node node(GetParam());
  ASSERT_TRUE(node.startNsd());
  auto legacy = node.install("--rules-backend iptables");
  ASSERT_EQ(legacy.exit_code, 0) << legacy.out << node.log();
  EXPECT_TRUE(contains(legacyRules(), "NodeLocal DNS Cache: skip conntrack"));
  EXPECT_NE(test::run("nft list table inet nodelocaldns").exit_code, 0);

  auto nft = node.install("--rules-backend nftables");
  ASSERT_EQ(nft.exit_code, 0) << nft.out << node.log();
  EXPECT_FALSE(contains(legacyRules(), "NodeLocal DNS")) << legacyRules();
  EXPECT_EQ(test::run("nft list table inet nodelocaldns").exit_code, 0);
  auto healthy = node.nld("status" + node.paths());
  EXPECT_EQ(healthy.exit_code, 0) << healthy.out;

  // Someone (an old upstream pod) adds a legacy rule back: status says the backends are mixed.
  test::run(
      "XTABLES_LOCKFILE=/tmp/nld-rb.lock iptables-legacy -w -t raw -I PREROUTING -d "
      "169.254.20.10 -p udp --dport 53 -j NOTRACK -m comment --comment 'NodeLocal DNS Cache: skip "
      "conntrack'");
  auto mixed = node.nld("status" + node.paths());
  EXPECT_EQ(mixed.exit_code, 1) << mixed.out;
  EXPECT_TRUE(contains(mixed.out, "1 of our rule(s) also in the iptables backend")) << mixed.out;

  auto down = node.nld("teardown" + node.paths());
  EXPECT_EQ(down.exit_code, 0) << down.out;
  EXPECT_TRUE(contains(down.out, "removed 1 rule(s) from the iptables backend")) << down.out;
  EXPECT_FALSE(contains(legacyRules(), "NodeLocal DNS")) << legacyRules();
  EXPECT_NE(test::run("nft list table inet nodelocaldns").exit_code, 0);
}

TEST(NftWorkflowDryRun, PrintsTheNftTable) {
  NLD_ENTER_NETNS();
  Node node(true);
  auto r = node.install("--rules-backend nftables --dry-run");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "## rules (nft)\n# nft -f -")) << r.out;
  EXPECT_TRUE(contains(r.out, "\tchain raw-prerouting {\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "--rules-backend nftables")) << r.out;  // the daemon's command line
  EXPECT_EQ(sh("nft list ruleset"), "");
}

INSTANTIATE_TEST_SUITE_P(Daemons, NftWorkflow, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "StandIn" : "Real";
                         });

}  // namespace
}  // namespace nld
