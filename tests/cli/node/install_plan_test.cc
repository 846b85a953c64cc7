// The install and teardown planners from a table of node situations: pure functions of typed
// inputs and an observation, so no root, no CLI11 and no network namespace.
#include "cli/node/install_plan.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli/node/teardown.h"

namespace nld::cli {
namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

const std::string kKubelet = "kind: KubeletConfiguration\nclusterDNS:\n- 10.96.0.10\n";

// --mode iptables --kube-dns 10.96.0.10 --cluster-upstream 10.96.0.11, paths under /t.
InstallInputs iptablesInputs() {
  InstallInputs in;
  in.paths = {.state_file = "/t/state/state", .pidfile = "/t/pid", .xtables_lock = "/t/xt.lock"};
  in.kube_dns = ip("10.96.0.10");
  in.local_ips = {ip("169.254.20.10")};
  in.mode = netcfg::ProxyMode::kIptables;
  in.rules_backend = RulesBackend::kIptables;
  in.cluster_upstream = ip("10.96.0.11");
  in.kubelet_config = "/t/kubelet.yaml";
  in.kubelet_extra_args = {"/t/kubelet.env"};
  in.config_dir = "/t/etc";
  in.run_dir = "/t/run";
  in.log_file = "/t/daemon.log";
  return in;
}

// A fresh node: nothing of ours, the kubelet config present, no extra-args file.
InstallObservation freshNode(const InstallInputs& in) {
  InstallObservation ob;
  ob.kubelet = {{in.kubelet_config, netcfg::KubeletFileKind::kConfigYaml, true, kKubelet},
                {"/t/kubelet.env", netcfg::KubeletFileKind::kExtraArgs, false,
                 fail(Errc::kSystem, "no such file")}};
  ob.detected_mode = detectNodeMode(in.mode, "");
  ob.detected_backend = detectNodeRulesBackend(in.rules_backend, in.mode);
  ob.exe = std::string("/usr/sbin/nodelocaldns");
  return ob;
}

// What an earlier install of `in` on `ob` would have recorded.
NodeState installedState(const InstallInputs& in, const InstallObservation& ob) {
  auto plan = planInstall(in, ob);
  EXPECT_TRUE(plan) << plan.error().message();
  NodeState s = plan->state;
  s.link_kind = LinkKind::kDummy;
  s.link_created = true;
  s.installed_at = 1700000000;
  return s;
}

TEST(InstallPlan, FreshNodeIptables) {
  auto in = iptablesInputs();
  auto plan = planInstall(in, freshNode(in));
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_EQ(plan->addresses, (std::vector<IpAddress>{ip("169.254.20.10"), ip("10.96.0.10")}));
  EXPECT_EQ(plan->cluster_dns, ip("10.96.0.11"));
  EXPECT_EQ(plan->cluster_from, "--cluster-upstream");
  EXPECT_TRUE(plan->base_changes);
  EXPECT_FALSE(plan->restart);
  EXPECT_FALSE(plan->running);
  EXPECT_TRUE(plan->kubelet.empty());
  EXPECT_TRUE(plan->stale.empty());
  EXPECT_EQ(plan->base_path, "/t/etc/Corefile.base");
  EXPECT_EQ(plan->rules.backend, RulesBackend::kIptables);
  EXPECT_EQ(plan->state.mode, netcfg::ProxyMode::kIptables);
  EXPECT_EQ(plan->state.addresses, plan->addresses);
  std::string text = formatPlan(*plan);
  EXPECT_TRUE(contains(text, "create link nodelocaldns")) << text;
  EXPECT_TRUE(contains(text, "-localip 169.254.20.10,10.96.0.10")) << text;
  EXPECT_TRUE(contains(text, "no change (iptables mode: clusterDNS stays 10.96.0.10")) << text;
}

TEST(InstallPlan, ReinstallIsANoOp) {
  auto in = iptablesInputs();
  auto ob = freshNode(in);
  ob.prev = installedState(in, ob);
  auto first = planInstall(in, freshNode(in));
  ob.corefile_base_exists = true;
  ob.corefile_base = first->corefile;
  ob.daemon = 4242;
  ob.daemon_answers = true;
  ob.link = NodeLink{.kind = "dummy", .up = true, .addresses = first->addresses};
  auto plan = planInstall(in, ob);
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_FALSE(plan->base_changes);
  EXPECT_FALSE(plan->restart);
  EXPECT_TRUE(contains(formatPlan(*plan), "already running, pid 4242"));
  EXPECT_TRUE(contains(formatPlan(*plan), "up to date"));
}

TEST(InstallPlan, ReinstallWithAnotherIpRestartsAndDropsTheOldAddress) {
  auto in = iptablesInputs();
  auto ob = freshNode(in);
  ob.prev = installedState(in, ob);
  ob.corefile_base_exists = true;
  ob.corefile_base = planInstall(in, freshNode(in))->corefile;
  ob.daemon = 4242;
  ob.daemon_answers = true;
  ob.daemon_serves = {ip("169.254.20.10"), ip("10.96.0.10")};
  in.local_ips = {ip("169.254.20.11")};
  auto plan = planInstall(in, ob);
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_TRUE(plan->base_changes);
  EXPECT_TRUE(plan->restart);
  EXPECT_EQ(plan->restart_why, "the Corefile changes");
  EXPECT_EQ(plan->stale, std::vector<IpAddress>{ip("169.254.20.10")});
  EXPECT_EQ(plan->previous_addresses,
            (std::vector<IpAddress>{ip("169.254.20.10"), ip("10.96.0.10")}));
  ASSERT_TRUE(plan->previous);
  EXPECT_EQ(plan->previous->probe, (SocketAddress{ip("169.254.20.10"), 53}));
  EXPECT_EQ(plan->state.installed_at, 1700000000);
}

TEST(InstallPlan, AWedgedDaemonIsRestarted) {
  auto in = iptablesInputs();
  auto ob = freshNode(in);
  ob.corefile_base_exists = true;
  ob.corefile_base = planInstall(in, freshNode(in))->corefile;
  ob.daemon = 7;
  ob.daemon_answers = false;
  auto plan = planInstall(in, ob);
  ASSERT_TRUE(plan);
  EXPECT_TRUE(plan->unresponsive);
  EXPECT_TRUE(plan->restart);
  EXPECT_FALSE(plan->previous);  // no state file: the rollback removes its rules instead
  EXPECT_TRUE(contains(formatPlan(*plan), "restart (it does not answer DNS): stop pid 7"));
}

TEST(InstallPlan, UpstreamAgentsLinkIsAdopted) {
  auto in = iptablesInputs();
  auto ob = freshNode(in);
  ob.link = NodeLink{.kind = "dummy", .up = true, .addresses = {ip("169.254.20.10")}};
  auto plan = planInstall(in, ob);
  ASSERT_TRUE(plan);
  std::string text = formatPlan(*plan);
  EXPECT_FALSE(contains(text, "create link")) << text;
  EXPECT_TRUE(contains(text, "add address 10.96.0.10/32 to nodelocaldns")) << text;
}

TEST(InstallPlan, ForeignLinkOfTheSameNameIsAnErrorInThePlan) {
  auto in = iptablesInputs();
  auto ob = freshNode(in);
  ob.link = NodeLink{.kind = "veth", .up = true, .addresses = {}};
  auto plan = planInstall(in, ob);
  ASSERT_TRUE(plan);
  EXPECT_TRUE(contains(formatPlan(*plan), "error: ")) << formatPlan(*plan);
}

TEST(InstallPlan, IpvsPointsKubeletAtTheLocalAddress) {
  auto in = iptablesInputs();
  in.mode = netcfg::ProxyMode::kIpvs;
  in.cluster_upstream.reset();
  auto ob = freshNode(in);
  ob.kubelet[1] = {"/t/kubelet.env", netcfg::KubeletFileKind::kExtraArgs, true,
                   std::string("KUBELET_EXTRA_ARGS=--cluster-dns=10.96.0.10\n")};
  auto plan = planInstall(in, ob);
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_EQ(plan->addresses, std::vector<IpAddress>{ip("169.254.20.10")});
  EXPECT_EQ(plan->cluster_dns, ip("10.96.0.10"));
  EXPECT_EQ(plan->cluster_from, "kube-dns (ipvs mode)");
  ASSERT_EQ(plan->kubelet.size(), 2u);
  EXPECT_EQ(plan->kubelet[0].kind, "config");
  EXPECT_EQ(plan->kubelet[0].edit.after, std::vector<std::string>{"169.254.20.10"});
  EXPECT_EQ(plan->kubelet[0].backup, "/t/state/kubelet-config-0.orig");
  EXPECT_EQ(plan->kubelet[1].kind, "args");
  EXPECT_TRUE(contains(plan->kubelet[1].edit.new_text, "--cluster-dns=169.254.20.10"));
  ASSERT_EQ(plan->state.kubelet.size(), 2u);
  EXPECT_EQ(plan->state.kubelet[0].before, std::vector<std::string>{"10.96.0.10"});
  EXPECT_TRUE(contains(formatPlan(*plan), "then kubelet must be restarted"));
}

TEST(InstallPlan, KubeletFileVariants) {
  struct Case {
    const char* name;
    bool config_exists;
    std::string config;
    bool skip;
    const char* error;  // nullptr: plans
  };
  const std::vector<Case> cases = {
      {"config missing", false, "", false, "does not exist"},
      {"no clusterDNS anywhere", true, "kind: KubeletConfiguration\n", false, "no clusterDNS in"},
      {"already points here", true, "clusterDNS:\n- 169.254.20.10\n", false, nullptr},
      {"skipped", false, "", true, nullptr},
  };
  for (const Case& c : cases) {
    auto in = iptablesInputs();
    in.mode = netcfg::ProxyMode::kIpvs;
    in.skip_kubelet = c.skip;
    auto ob = freshNode(in);
    ob.kubelet[0].exists = c.config_exists;
    ob.kubelet[0].text = c.config;
    auto plan = planInstall(in, ob);
    if (c.error != nullptr) {
      ASSERT_FALSE(plan) << c.name;
      EXPECT_EQ(plan.error().code(), Errc::kInvalidArgument) << c.name;
      EXPECT_TRUE(contains(plan.error().message(), c.error))
          << c.name << ": " << plan.error().message();
    } else {
      ASSERT_TRUE(plan) << c.name << ": " << plan.error().message();
    }
  }
}

TEST(InstallPlan, KubeDnsComesFromFlagStateOrKubelet) {
  auto in = iptablesInputs();
  in.kube_dns.reset();
  auto plan = planInstall(in, freshNode(in));
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_EQ(plan->kube_dns, ip("10.96.0.10"));
  EXPECT_EQ(plan->kube_dns_from, "clusterDNS in /t/kubelet.yaml");

  auto ob = freshNode(in);
  ob.kubelet[0].text = std::string("clusterDNS:\n- 169.254.20.10\n");
  auto local = planInstall(in, ob);
  ASSERT_FALSE(local);
  EXPECT_TRUE(contains(local.error().message(), "already is the local address"));

  in.kube_dns = ip("169.254.20.10");
  auto loop = planInstall(in, freshNode(in));
  ASSERT_FALSE(loop);
  EXPECT_TRUE(contains(loop.error().message(), "is also a --local-ip"));
}

TEST(InstallPlan, ClusterUpstreamFromStateOrKubectl) {
  auto in = iptablesInputs();
  in.cluster_upstream.reset();
  auto ob = freshNode(in);
  EXPECT_TRUE(needsKubectlUpstream(in, ob.prev, netcfg::ProxyMode::kIptables));
  ob.kubectl_upstream = Result<IpAddress>(fail(Errc::kInvalidArgument, "kubectl is not installed"));
  auto missing = planInstall(in, ob);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(), "kubectl is not installed");

  ob.kubectl_upstream = Result<IpAddress>(ip("10.96.0.12"));
  auto plan = planInstall(in, ob);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->cluster_from, "kube-dns-upstream Service (kubectl)");

  ob.prev = installedState(in, ob);
  EXPECT_FALSE(needsKubectlUpstream(in, ob.prev, netcfg::ProxyMode::kIptables));
  EXPECT_TRUE(
      needsKubectlUpstream(in, ob.prev, netcfg::ProxyMode::kNftables));  // recorded for iptables
  ob.kubectl_upstream.reset();
  auto again = planInstall(in, ob);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->cluster_dns, ip("10.96.0.12"));
  EXPECT_EQ(again->cluster_from, "state file /t/state/state");
}

TEST(InstallPlan, NftablesBackendChangeRestartsTheDaemon) {
  auto in = iptablesInputs();
  auto ob = freshNode(in);
  ob.prev = installedState(in, ob);
  ob.corefile_base_exists = true;
  ob.corefile_base = planInstall(in, freshNode(in))->corefile;
  ob.daemon = 9;
  ob.daemon_answers = true;
  in.rules_backend = RulesBackend::kNftables;
  ob.detected_backend = detectNodeRulesBackend(in.rules_backend, in.mode);
  auto plan = planInstall(in, ob);
  ASSERT_TRUE(plan);
  EXPECT_TRUE(plan->backend_changes);
  EXPECT_EQ(plan->restart_why, "the rules backend changes");
  EXPECT_EQ(plan->rules.backend, RulesBackend::kNftables);
  EXPECT_TRUE(contains(formatPlan(*plan), "## rules (nft)"));
  EXPECT_TRUE(contains(formatPlan(*plan), "--rules-backend nftables"));
}

TEST(InstallInputs, FlagSyntaxErrorsNameTheFlag) {
  InstallFlags f;
  f.local_ips = {"169.254.20.10,169.254.20.10", "fd00::10"};
  auto in = installInputs(f);
  ASSERT_TRUE(in);
  EXPECT_EQ(in->local_ips, (std::vector<IpAddress>{ip("169.254.20.10"), ip("fd00::10")}));
  EXPECT_FALSE(in->mode);
  f.kube_dns = "10.96.0";
  EXPECT_TRUE(contains(installInputs(f).error().message(), "--kube-dns: "));
  f.kube_dns = "";
  f.mode = "ipvs";
  f.rules_backend = "nftables";
  f.link_kind = "bridge";
  in = installInputs(f);
  ASSERT_TRUE(in);
  EXPECT_EQ(in->mode, netcfg::ProxyMode::kIpvs);
  EXPECT_EQ(in->rules_backend, RulesBackend::kNftables);
  EXPECT_EQ(in->link_kind, LinkKind::kBridge);
  f.rules_backend = "nft";
  EXPECT_FALSE(installInputs(f));  // no longer silently iptables
}

TeardownInputs teardownInputs() {
  TeardownInputs in;
  in.paths = {.state_file = "/t/state/state", .pidfile = "/t/pid", .xtables_lock = "/t/xt.lock"};
  return in;
}

TEST(TeardownPlan, WithoutAnyRecordUsesDefaults) {
  TeardownObservation ob;
  ob.pidfile = "/t/pid";
  auto p = planTeardown(teardownInputs(), ob);
  EXPECT_FALSE(p.record);
  EXPECT_EQ(p.interface, "nodelocaldns");
  EXPECT_EQ(p.rules.ips, std::vector<IpAddress>{ip("169.254.20.10")});
  EXPECT_TRUE(p.files.empty());
}

TEST(TeardownPlan, AKilledInstallsPendingRecordAndTemporariesAreRemoved) {
  auto in = iptablesInputs();
  auto pending = planInstall(in, freshNode(in))->state;
  TeardownObservation ob;
  ob.pidfile = "/t/pid";
  ob.pending = pending;
  ob.leftovers = {"/t/etc/Corefile.base.tmp.Ab12Cd"};
  ob.link = std::optional<NodeLink>(NodeLink{.kind = "dummy", .up = true, .addresses = {}});
  auto p = planTeardown(teardownInputs(), ob);
  ASSERT_TRUE(p.record);
  EXPECT_FALSE(p.from_state_file);
  EXPECT_EQ(p.files, (std::vector<std::string>{"/t/etc/Corefile.base", "/t/run/Corefile"}));
  EXPECT_NE(
      std::find(p.quiet_files.begin(), p.quiet_files.end(), "/t/etc/Corefile.base.tmp.Ab12Cd"),
      p.quiet_files.end());
  EXPECT_EQ(p.rules.ips, (std::vector<IpAddress>{ip("169.254.20.10"), ip("10.96.0.10")}));
  EXPECT_EQ(p.rules.lock_path, "/t/xt.lock");
}

TEST(TeardownPlan, ForeignLinkOfTheSameNameIsLeftAlone) {
  TeardownObservation ob;
  ob.pidfile = "/t/pid";
  ob.link = std::optional<NodeLink>(
      NodeLink{.kind = "veth", .up = true, .addresses = {ip("169.254.20.99")}});
  auto p = planTeardown(teardownInputs(), ob);
  EXPECT_TRUE(p.foreign_link);
  EXPECT_EQ(p.rules.ips, std::vector<IpAddress>{ip("169.254.20.10")});  // not the veth's
  ASSERT_EQ(p.problems.size(), 1u);
  EXPECT_TRUE(contains(p.problems[0], "has kind 'veth'"));
}

TEST(TeardownPlan, StateFileAndPendingRecordTogether) {
  auto in = iptablesInputs();
  TeardownObservation ob;
  ob.pidfile = "/t/pid";
  NodeState installed = installedState(in, freshNode(in));
  installed.rules_backend = RulesBackend::kNftables;
  ob.state = std::optional<NodeState>(installed);
  in.local_ips = {ip("169.254.20.11")};
  in.run_dir = "/t/run2";
  ob.pending = planInstall(in, freshNode(in))->state;
  auto p = planTeardown(teardownInputs(), ob);
  EXPECT_TRUE(p.from_state_file);
  EXPECT_EQ(p.rules.backend, RulesBackend::kNftables);
  EXPECT_EQ(p.rules.ips,
            (std::vector<IpAddress>{ip("169.254.20.10"), ip("10.96.0.10"), ip("169.254.20.11")}));
  EXPECT_EQ(p.files, (std::vector<std::string>{"/t/etc/Corefile.base", "/t/run/Corefile",
                                               "/t/run2/Corefile"}));
}

}  // namespace
}  // namespace nld::cli
