// `nodelocaldns install`: set up NodeLocal DNSCache on this node without Kubernetes objects.
// Flags → typed inputs → lock → observe → plan → (--dry-run) print it, or apply it
// (cli/node/install_plan.h, install_apply.h). Idempotent: a second run finds everything in place
// and changes nothing. A failure rolls back what this run added (in reverse) and says what it left.
#include <cstdio>
#include <optional>

#include "cli/commands.h"
#include "cli/node/flags.h"
#include "cli/node/install_apply.h"
#include "cli/node/install_plan.h"
#include "cli/node/lock.h"

namespace nld::cli {
namespace {

Result<int> runInstall(const InstallFlags& flags) {
  auto in = installInputs(flags);
  if (!in) {
    return fail(std::move(in.error()));
  }
  // One at a time, and before anything is observed (state file, link, daemon, rules): a plan made
  // from what a concurrent teardown was removing would be applied to a node it no longer
  // describes. The dry run changes nothing and takes no lock.
  std::optional<NodeLock> lock;
  if (!in->dry_run) {
    auto l = NodeLock::acquire(in->paths.pidfile);
    if (!l) {
      return fail(std::move(l.error()));
    }
    lock.emplace(std::move(*l));
  }
  auto observed = observeInstall(*in);
  if (!observed) {
    return fail(std::move(observed.error()));
  }
  auto plan = planInstall(*in, *observed);
  if (!plan) {
    return fail(std::move(plan.error()));
  }
  if (in->dry_run) {
    std::fputs(formatPlan(*plan).c_str(), stdout);
    return 0;
  }
  return applyInstall(*plan);
}

}  // namespace

Command addInstallCommand(CLI::App& app) {
  auto opts = std::make_shared<InstallFlags>();
  CLI::App* cmd = app.add_subcommand(
      "install", "Set up the node: interface, cache daemon, rules (and kubelet in ipvs mode)");
  cmd->add_option("--kube-dns", opts->kube_dns,
                  "kube-dns ClusterIP (default: the first clusterDNS in the kubelet config)");
  cmd->add_option("--local-ip", opts->local_ips,
                  "Node-local address(es) to serve on; repeat or comma-separate "
                  "(default 169.254.20.10)");
  cmd->add_option("--domain", opts->domain, "Cluster domain")->capture_default_str();
  cmd->add_option("--mode", opts->mode, "kube-proxy mode: auto, iptables, ipvs, nftables")
      ->check(CLI::IsMember({"auto", "iptables", "ipvs", "nftables"}))
      ->capture_default_str();
  cmd->add_option("--kube-proxy-address", opts->kube_proxy_addr,
                  "kube-proxy metrics address queried for /proxyMode by --mode auto")
      ->capture_default_str();
  cmd->add_option("--interface-name", opts->interface, "Name of the node-local interface")
      ->capture_default_str();
  cmd->add_option("--link-kind", opts->link_kind, "Interface kind: auto, dummy, bridge")
      ->check(CLI::IsMember({"auto", "dummy", "bridge"}))
      ->capture_default_str();
  cmd->add_option("--cluster-upstream", opts->cluster_upstream,
                  "Where the cluster zone is forwarded in iptables/nftables mode: the "
                  "kube-dns-upstream Service's ClusterIP (default: looked up with kubectl)");
  cmd->add_option("--upstream-servers", opts->upstream_servers,
                  "Upstreams for other zones: a resolv.conf path or IPs")
      ->capture_default_str();
  cmd->add_option("--kubelet-config", opts->kubelet_config, "KubeletConfiguration file")
      ->capture_default_str();
  cmd->add_option("--kubelet-extra-args", opts->kubelet_extra_args,
                  "KUBELET_EXTRA_ARGS file(s) whose --cluster-dns is also edited "
                  "(default: /etc/default/kubelet, /etc/sysconfig/kubelet when present)");
  cmd->add_flag("--skip-kubelet", opts->skip_kubelet, "Never edit kubelet files (ipvs mode)");
  cmd->add_option("--config-dir", opts->config_dir, "Directory of Corefile.base")
      ->capture_default_str();
  cmd->add_option("--run-dir", opts->run_dir, "Directory of the daemon's generated Corefile")
      ->capture_default_str();
  cmd->add_option("--log-file", opts->log_file, "Log file of the daemon")->capture_default_str();
  cmd->add_option("--wait", opts->wait_seconds,
                  "Seconds to wait for the daemon to answer DNS before rolling back")
      ->capture_default_str();
  cmd->add_flag("--dry-run", opts->dry_run, "Print the full plan and change nothing");
  addRulesBackendFlag(cmd, opts->rules_backend,
                      "Where the rules go: auto (nftables when kube-proxy or the host's iptables "
                      "use it), iptables (legacy), nftables (table inet nodelocaldns)")
      ->capture_default_str();
  addNodePathFlags(cmd, opts->paths);
  // Not in --help: tests substitute a stand-in daemon that takes `run`'s flags.
  cmd->add_option("--daemon-exe", opts->daemon_exe, "Executable started as '<exe> run ...'")
      ->group("");
  return {cmd, [opts]() { return runInstall(*opts); }};
}

}  // namespace nld::cli
