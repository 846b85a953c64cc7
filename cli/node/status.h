// `status` as observe → report model → text or JSON. observeStatus() reads the node (state file,
// link, rules of both backends, daemon and its DNS answers, kubelet's clusterDNS) into a
// StatusReport that holds every problem found; the two formatters only print it. No logging.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "cli/node/ops.h"
#include "cli/node/state.h"
#include "netcfg/netcfg.h"

namespace nld::cli {

struct StatusInputs {
  NodePaths paths;
  bool pidfile_given = false;                 // else the state file's
  bool xtables_lock_given = false;            // else the state file's
  std::string kubelet_config;                 // "" = as installed, else the default
  std::optional<RulesBackend> rules_backend;  // nullopt: as installed, else detected
};

struct StatusReport {
  bool installed = false;
  std::optional<netcfg::ProxyMode>
      mode;  // as install found it; nullopt: not installed (or unreadable)
  std::string mode_signal;
  std::string interface;
  std::optional<NodeLink> link;
  std::vector<std::string> addresses;          // on the link
  std::vector<std::string> missing_addresses;  // recorded, not on the link
  RulesBackend backend = RulesBackend::kIptables;
  std::string backend_signal;
  unsigned other_backend_copies = 0;
  std::optional<std::vector<NodeRuleState>> rules;  // nullopt: could not be read
  std::optional<pid_t> pid;
  std::optional<double> uptime_seconds;
  std::string probe;
  bool listening = false;
  bool serving = false;
  bool answering = false;
  std::string kubelet_path;
  std::vector<std::string> kubelet_cluster_dns;
  std::string kubelet_error;
  std::vector<std::string> problems;
  bool healthy() const { return problems.empty(); }
};

/// Errors: the state file cannot be parsed.
Result<StatusReport> observeStatus(const StatusInputs& in);
std::string formatStatusText(const StatusReport& report);
std::string formatStatusJson(const StatusReport& report);

}  // namespace nld::cli
