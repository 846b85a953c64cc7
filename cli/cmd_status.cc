// `nodelocaldns status [--json]`: mode and how it was found, link and addresses, each rule present
// or missing, the daemon (pid, uptime, answering DNS), kubelet's clusterDNS. Exit 0 when healthy,
// 1 when degraded (anything missing, or not installed). Observe → report → text or JSON
// (cli/node/status.h).
#include <cstdio>

#include "cli/commands.h"
#include "cli/node/flags.h"
#include "cli/node/status.h"

namespace nld::cli {
namespace {

struct StatusOptions {
  NodePaths paths;
  std::string kubelet_config;
  bool json = false;
  std::string rules_backend = "auto";
};

Result<int> runStatus(const StatusOptions& o, const CLI::App* cmd) {
  StatusInputs in{.paths = o.paths,
                  .pidfile_given = cmd->count("--pidfile") > 0,
                  .xtables_lock_given = cmd->count("--xtables-lock") > 0,
                  .kubelet_config = o.kubelet_config,
                  .rules_backend = std::nullopt};
  if (auto b = netcfg::parseRulesBackend(o.rules_backend)) {
    in.rules_backend = *b;
  }
  auto report = observeStatus(in);
  if (!report) {
    return fail(std::move(report.error()));
  }
  std::fputs((o.json ? formatStatusJson(*report) : formatStatusText(*report)).c_str(), stdout);
  return report->healthy() ? 0 : 1;
}

}  // namespace

Command addStatusCommand(CLI::App& app) {
  auto opts = std::make_shared<StatusOptions>();
  CLI::App* cmd = app.add_subcommand(
      "status", "Show mode, interface, rules, daemon and kubelet DNS; exit 1 when degraded");
  cmd->add_flag("--json", opts->json, "Print one JSON object");
  cmd->add_option("--kubelet-config", opts->kubelet_config,
                  "KubeletConfiguration file to read clusterDNS from (default: as installed, "
                  "else /var/lib/kubelet/config.yaml)");
  addRulesBackendFlag(cmd, opts->rules_backend,
                      "Backend whose rules are checked (default: as installed)")
      ->capture_default_str();
  addNodePathFlags(cmd, opts->paths);
  return {cmd, [opts, cmd]() { return runStatus(*opts, cmd); }};
}

}  // namespace nld::cli
