// `install` as a value: observeInstall() takes a read-only snapshot of the node (state file,
// kubelet files, kube-proxy mode, rules backend, Corefile, link, daemon), planInstall() turns the
// typed inputs and that snapshot into an InstallPlan without touching anything (so it is unit
// tested from a table of node situations), formatPlan() is `install --dry-run`, and
// applyInstall() (install_apply.h) carries the plan out. No logging.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/ip.h"
#include "base/result.h"
#include "cli/node/ops.h"
#include "cli/node/state.h"
#include "netcfg/netcfg.h"

namespace nld::cli {

/// install's flags as given (strings, from CLI11).
struct InstallFlags {
  NodePaths paths;
  std::string kube_dns;
  std::vector<std::string> local_ips;
  std::string domain = "cluster.local";
  std::string mode = "auto";
  std::string rules_backend = "auto";
  std::string kube_proxy_addr = "127.0.0.1:10249";
  std::string interface = kDefaultInterface;
  std::string link_kind = "auto";
  std::string cluster_upstream;
  std::string upstream_servers = "/etc/resolv.conf";
  std::string kubelet_config = std::string(netcfg::kDefaultKubeletConfig);
  std::vector<std::string> kubelet_extra_args;
  bool skip_kubelet = false;
  std::string config_dir = kDefaultConfigDir;
  std::string run_dir = kDefaultRunDir;
  std::string log_file = kDefaultLogFile;
  double wait_seconds = 30;
  bool dry_run = false;
  std::string daemon_exe;  // hidden, for tests: a stand-in for this binary's `run`
};

/// install's inputs, typed.
struct InstallInputs {
  NodePaths paths;
  std::optional<IpAddress> kube_dns;  // nullopt: from the state file, else kubelet's clusterDNS
  std::vector<IpAddress> local_ips;   // never empty, no duplicates
  std::string domain = "cluster.local";
  std::optional<netcfg::ProxyMode> mode;      // nullopt: auto (detected)
  std::optional<RulesBackend> rules_backend;  // nullopt: auto (detected)
  std::string kube_proxy_addr = "127.0.0.1:10249";
  std::string interface = kDefaultInterface;
  LinkKind link_kind = LinkKind::kAuto;
  std::optional<IpAddress> cluster_upstream;  // nullopt: from the state file, else kubectl
  std::string upstream_servers = "/etc/resolv.conf";
  std::string kubelet_config = std::string(netcfg::kDefaultKubeletConfig);
  std::vector<std::string> kubelet_extra_args;  // empty: netcfg::kDefaultKubeletExtraArgsFiles
  bool skip_kubelet = false;
  std::string config_dir = kDefaultConfigDir;
  std::string run_dir = kDefaultRunDir;
  std::string log_file = kDefaultLogFile;
  // Fixed like the manifest's Corefile (`.:53`, `health ...:8080`).
  uint16_t dns_port = 53;
  uint16_t health_port = 8080;
  double wait_seconds = 30;
  bool dry_run = false;
  std::string daemon_exe;  // "" = this executable
};

/// Checks the flags' syntax (kInvalidArgument naming the flag); nothing is read.
Result<InstallInputs> installInputs(const InstallFlags& flags);

/// A kubelet file install may edit, as read.
struct KubeletFileObservation {
  std::string path;
  netcfg::KubeletFileKind kind = netcfg::KubeletFileKind::kConfigYaml;
  bool exists = false;
  Result<std::string> text;  // its content, or why it cannot be read
};

/// What install reads before it decides anything. Read-only.
struct InstallObservation {
  std::optional<NodeState> prev;                // the state file of an earlier install
  std::vector<KubeletFileObservation> kubelet;  // --kubelet-config first, then the extra-args files
  Result<ModeInfo> detected_mode = ModeInfo{};  // used when the mode is auto
  BackendInfo detected_backend;                 // used when the backend is auto
  std::optional<Result<IpAddress>> kubectl_upstream;  // the kube-dns-upstream Service, if asked
  bool corefile_base_exists = false;
  Result<std::string> corefile_base = std::string();  // its content, or a read error
  bool corefile_exists = false;                       // the daemon's generated Corefile
  Result<std::string> exe = std::string();            // the executable started as `run`
  std::optional<NodeLink> link;                       // the interface, if it exists
  std::optional<pid_t> daemon;                        // the daemon the pidfile names, if running
  bool daemon_answers = false;                        // it answers its health probe
  std::vector<IpAddress> daemon_serves;               // its -localip addresses
};

/// Does install need kubectl to find the cluster zone's upstream (iptables/nftables mode, no
/// --cluster-upstream, none recorded for this mode)?
bool needsKubectlUpstream(const InstallInputs& in, const std::optional<NodeState>& prev,
                          netcfg::ProxyMode mode);

/// Reads the node. Errors: the state file cannot be parsed, the link cannot be read.
Result<InstallObservation> observeInstall(const InstallInputs& in);

/// One kubelet file's edit.
struct KubeletPlan {
  netcfg::KubeletEdit edit;
  std::string kind;                   // "config" / "args"
  std::vector<std::string> original;  // values before any install (from an earlier state)
  std::string backup;
};

/// How to start the daemon of the earlier install again (its rollback after a restart).
struct PreviousDaemon {
  std::vector<std::string> argv;
  std::string log_file;
  std::optional<SocketAddress> probe;
  std::string pidfile;
};

struct InstallPlan {
  InstallInputs in;
  ModeInfo mode;
  BackendInfo backend;
  IpAddress kube_dns;
  std::string kube_dns_from;
  IpAddress cluster_dns;
  std::string cluster_from;
  std::vector<IpAddress> addresses;  // on the link: local IPs (+ kube-dns outside ipvs)
  std::optional<NodeLink> link;      // as observed
  std::string corefile;
  std::string base_path;
  std::string conf_path;
  bool base_existed = false;
  std::string old_base;  // its content when base_existed
  bool base_changes = false;
  bool conf_existed = false;
  bool backend_changes = false;
  std::vector<std::string> argv;  // the daemon's command line
  NodeRules rules;
  std::vector<KubeletPlan> kubelet;
  SocketAddress probe;
  std::chrono::milliseconds wait{0};
  std::optional<pid_t> running;
  bool unresponsive = false;
  bool restart = false;
  std::string restart_why;
  std::vector<IpAddress> previous_addresses;  // what the restarted daemon served
  std::optional<PreviousDaemon> previous;     // how to restart it (from the state file)
  std::vector<IpAddress> stale;               // served before, not any more
  std::optional<NodeState> prev;
  NodeState state;  // to record; apply fills in link_kind, link_created and installed_at
};

/// Pure: the whole install decided from inputs and observation. kInvalidArgument when the inputs
/// cannot work on this node (nothing changes).
Result<InstallPlan> planInstall(const InstallInputs& in, const InstallObservation& observed);

/// `install --dry-run`.
std::string formatPlan(const InstallPlan& plan);

/// `<exe> run ...` as install starts the daemon.
struct DaemonArgs {
  std::string exe;
  std::vector<IpAddress> addresses;
  std::string base_path;
  std::string conf_path;
  std::string pidfile;
  uint16_t health_port = 8080;
  uint16_t dns_port = 53;
  std::string interface;
  LinkKind link_kind = LinkKind::kAuto;
  std::string xtables_lock;
  RulesBackend rules_backend = RulesBackend::kIptables;
};
std::vector<std::string> daemonArgv(const DaemonArgs& args);

}  // namespace nld::cli
