// The node state file: what `install` did on this node, so that `teardown`, `stop`, `status` and
// `revert-kubelet` act on exactly that (addresses, mode, interface, paths, kubelet edits) without
// the operator repeating the flags.
//
// Format: one `key=value` per line, lists comma-separated, `#` comments; unknown keys are ignored
// so older binaries read newer files. Written atomically. No logging.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/ip.h"
#include "base/result.h"
#include "netcfg/netcfg.h"

namespace nld::cli {

inline constexpr const char* kDefaultStateFile = "/var/lib/nodelocaldns/state";
inline constexpr const char* kDefaultPidFile = "/run/nodelocaldns.pid";
inline constexpr const char* kDefaultConfigDir = "/etc/nodelocaldns";
inline constexpr const char* kDefaultRunDir = "/run/nodelocaldns";
inline constexpr const char* kDefaultLogFile = "/var/log/nodelocaldns.log";
inline constexpr const char* kDefaultXtablesLock = "/run/xtables.lock";
inline constexpr const char* kDefaultInterface = "nodelocaldns";
inline constexpr const char* kDefaultLocalIp = "169.254.20.10";

/// Every path the node workflows touch can be moved (flags), so tests run in a temporary
/// directory inside a network namespace.
struct NodePaths {
  std::string state_file = kDefaultStateFile;
  std::string pidfile = kDefaultPidFile;
  std::string xtables_lock = kDefaultXtablesLock;
};

/// The record an install writes before it changes anything (the state it is about to reach) and
/// removes once the state file is written or the rollback is done: after a `kill -9` of install
/// it tells teardown which files, addresses and link that run may have left.
inline std::string pendingStateFile(const std::string& state_file) {
  return state_file + ".pending";
}

/// One kubelet file install changed: values before and after, for revert.
struct KubeletChange {
  std::string kind;  // "config" or "args"
  std::string path;
  std::vector<std::string> before;
  std::vector<std::string> after;
  std::string backup;  // copy of the file before the edit ("" = none)
};

/// Typed; strings only in the file (formatNodeState / parseNodeState).
struct NodeState {
  netcfg::ProxyMode mode = netcfg::ProxyMode::kIptables;
  std::string mode_signal;  // how the mode was decided
  std::string interface = kDefaultInterface;
  netcfg::LinkKind link_kind = netcfg::LinkKind::kDummy;  // as created (dummy | bridge)
  bool link_created = false;                              // this node's install created the link
  std::vector<IpAddress> addresses;  // on the link (local IPs, + kube-dns IP in iptables)
  std::vector<IpAddress> local_ips;  // the node-local addresses (--local-ip)
  std::optional<IpAddress> kube_dns;
  std::optional<IpAddress> cluster_upstream;
  std::string domain = "cluster.local";
  uint16_t dns_port = 53;
  uint16_t health_port = 8080;
  std::string pidfile = kDefaultPidFile;
  std::string corefile_base;
  std::string corefile;
  std::string log_file;
  std::string xtables_lock = kDefaultXtablesLock;
  netcfg::RulesBackend rules_backend = netcfg::RulesBackend::kIptables;  // files without: iptables
  std::string rules_backend_signal;                                      // how install chose it
  std::string daemon_command;  // the command line install started, for status
  int64_t installed_at = 0;    // unix seconds
  std::string kubelet_config;  // the KubeletConfiguration install read (status shows it)
  std::vector<KubeletChange> kubelet;
};

/// std::nullopt when the file does not exist; kParse on a malformed line (with its number).
Result<std::optional<NodeState>> loadNodeState(const std::string& path);
Result<void> saveNodeState(const std::string& path, const NodeState& state);
/// Removes the file; a missing file is fine.
Result<void> removeNodeState(const std::string& path);

std::string formatNodeState(const NodeState& state);

/// mkdir -p of the directory holding `path` (mode 0755).
Result<void> ensureParentDirs(const std::string& path);
Result<NodeState> parseNodeState(const std::string& text);

}  // namespace nld::cli
