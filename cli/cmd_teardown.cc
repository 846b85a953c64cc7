// `nodelocaldns teardown`: undo install. Stop the daemon (SIGTERM, bounded wait, SIGKILL), remove
// every copy of the rules (ours or upstream node-cache's) from BOTH rules backends (legacy
// iptables and our nftables table: a node may have switched), then the interface, put kubelet's
// clusterDNS back, remove our files. Best effort: every step is tried; the exit code is non-zero
// only if something is left afterwards, and the message names it. Works without a state file
// (after a crash, or for an upstream node-cache's leftovers) from flags, what an interrupted
// install recorded and what the interface holds (cli/node/teardown.h).
#include "cli/commands.h"
#include "cli/node/flags.h"
#include "cli/node/lock.h"
#include "cli/node/teardown.h"

namespace nld::cli {
namespace {

struct TeardownOptions {
  NodePaths paths;
  std::string interface;
  std::vector<std::string> local_ips;
  std::string kube_dns;
  uint16_t dns_port = 0;
  uint16_t health_port = 0;
  double grace_seconds = 10;
  bool keep_kubelet = false;
  std::string rules_backend = "auto";
};

Result<TeardownInputs> teardownInputs(const TeardownOptions& o, const CLI::App* cmd) {
  TeardownInputs in;
  in.paths = o.paths;
  in.xtables_lock_given = cmd->count("--xtables-lock") > 0;
  in.interface = o.interface;
  in.dns_port = o.dns_port;
  in.health_port = o.health_port;
  in.grace = std::chrono::milliseconds(static_cast<int64_t>(o.grace_seconds * 1000));
  in.keep_kubelet = o.keep_kubelet;
  for (const auto& s : splitCommaList(o.local_ips)) {
    auto ip = IpAddress::parseOrError(s);
    if (!ip) {
      return fail(Errc::kInvalidArgument, "--local-ip: " + ip.error().message());
    }
    in.extra_ips.push_back(*ip);
  }
  if (!o.kube_dns.empty()) {
    auto ip = IpAddress::parseOrError(o.kube_dns);
    if (!ip) {
      return fail(Errc::kInvalidArgument, "--kube-dns: " + ip.error().message());
    }
    in.extra_ips.push_back(*ip);
  }
  if (auto b = netcfg::parseRulesBackend(o.rules_backend)) {
    in.rules_backend = *b;
  }
  return in;
}

Result<int> runTeardown(const TeardownOptions& o, const CLI::App* cmd) {
  auto in = teardownInputs(o, cmd);
  if (!in) {
    return fail(std::move(in.error()));
  }
  // Locked first, then read: the state a concurrent install wrote is the one torn down.
  auto locked = lockNodeState(o.paths.state_file, o.paths.pidfile, cmd->count("--pidfile") > 0);
  if (!locked) {
    return fail(std::move(locked.error()));
  }
  auto observed = observeTeardown(*in, locked->pidfile, std::move(locked->state));
  return printTeardownReport(applyTeardown(*in, planTeardown(*in, observed)));
}

}  // namespace

Command addTeardownCommand(CLI::App& app) {
  auto opts = std::make_shared<TeardownOptions>();
  CLI::App* cmd = app.add_subcommand(
      "teardown", "Stop the daemon, remove the rules and the interface, revert kubelet");
  cmd->add_option("--interface-name", opts->interface,
                  "Interface to remove (default: from the state file, else nodelocaldns)");
  cmd->add_option("--local-ip", opts->local_ips,
                  "Also remove the rules of these addresses (repeat or comma-separate)");
  cmd->add_option("--kube-dns", opts->kube_dns, "Also remove the rules of this kube-dns IP");
  cmd->add_option("--grace", opts->grace_seconds, "Seconds to wait after SIGTERM before SIGKILL")
      ->capture_default_str();
  cmd->add_flag("--keep-kubelet", opts->keep_kubelet, "Leave kubelet's clusterDNS as it is");
  addRulesBackendFlag(cmd, opts->rules_backend,
                      "Backend removed first (default: as installed); our rules are removed from "
                      "both iptables and nftables whatever is chosen")
      ->capture_default_str();
  addNodePathFlags(cmd, opts->paths);
  return {cmd, [opts, cmd]() { return runTeardown(*opts, cmd); }};
}

}  // namespace nld::cli
