// `nodelocaldns install`: set up NodeLocal DNSCache on this node without Kubernetes objects.
//
// Order (never divert DNS to a cache that does not answer): detect the kube-proxy mode → ensure
// the interface and addresses → write the Corefile and start the daemon → wait until it answers on
// the local address → ensure the rules → (ipvs) point kubelet's clusterDNS at the local address.
// Idempotent: a second run finds everything in place and changes nothing. A failure rolls back
// what this run added (in reverse) and says what it left.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <thread>

#include "base/atomic_file.h"
#include "base/log.h"
#include "cli/commands.h"
#include "cli/node/daemon.h"
#include "cli/node/flags.h"
#include "cli/node/ops.h"
#include "cli/node/lock.h"
#include "cli/node/state.h"
#include "netcfg/kubelet.h"

namespace nld::cli {
namespace {

struct InstallOptions {
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
  // Fixed like the manifest's Corefile (`.:53`, `health ...:8080`).
  uint16_t dns_port = 53;
  uint16_t health_port = 8080;
  double wait_seconds = 30;
  bool dry_run = false;
  std::string daemon_exe;  // hidden, for tests: a stand-in for this binary's `run`
};

// How long a running daemon has to answer its health probe before install calls it wedged. It
// answers that itself in microseconds; the probe is resent (5 ms, doubling to 200 ms) meanwhile,
// so a busy node gets several tries.
constexpr std::chrono::milliseconds kProbeWait{2000};

std::string join(const std::vector<std::string>& v, const char* sep = ",") {
  std::string out;
  for (const auto& s : v) {
    out += (out.empty() ? "" : sep) + s;
  }
  return out;
}

std::vector<std::string> toStrings(const std::vector<IpAddress>& ips) {
  std::vector<std::string> out;
  for (const auto& ip : ips) {
    out.push_back(ip.toString());
  }
  return out;
}

bool fileExists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

std::string dirOf(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

std::optional<std::string> findInPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string_view p = path ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!p.empty()) {
    size_t colon = p.find(':');
    std::string dir(p.substr(0, colon));
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    if (colon == std::string_view::npos) {
      break;
    }
    p.remove_prefix(colon + 1);
  }
  return std::nullopt;
}

// The kube-dns-upstream Service's ClusterIP, through kubectl when it is installed.
Result<IpAddress> lookupClusterUpstream() {
  const std::string how =
      "pass --cluster-upstream IP, or create the Service with 'nodelocaldns render-manifest "
      "--only kube-dns-upstream | kubectl apply -f -'";
  auto kubectl = findInPath("kubectl");
  if (!kubectl) {
    return fail(Errc::kInvalidArgument,
                "the cluster zone needs the kube-dns-upstream Service's ClusterIP in this mode "
                "(forwarding to kube-dns itself would loop back into the cache) and kubectl is "
                "not installed: " +
                    how);
  }
  std::string cmd = *kubectl +
                    " -n kube-system get svc kube-dns-upstream --request-timeout=5s"
                    " -o 'jsonpath={.spec.clusterIP}' 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) {
    return failSys(errno, "run kubectl");
  }
  std::string out;
  char buf[256];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) {
    out.append(buf, n);
  }
  int status = ::pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) {
    out.pop_back();
  }
  auto ip = IpAddress::parse(out);
  if (status != 0 || !ip) {
    if (auto nl = out.find('\n'); nl != std::string::npos) {
      out.resize(nl);
    }
    return fail(Errc::kInvalidArgument,
                "kube-dns-upstream Service not found with kubectl (" + out + "): " + how);
  }
  return *ip;
}

// SIGINT, SIGTERM and SIGHUP are held while install changes the node, and checked between steps:
// an operator's Ctrl-C (or a supervisor's SIGTERM) during the wait for the daemon ends in the
// rollback instead of a half-installed node without a state file. One that comes after the last
// step is dropped: the install is complete. The daemon starts with an empty mask (spawnDetached).
class HeldSignals {
 public:
  HeldSignals() {
    sigemptyset(&set_);
    for (int s : {SIGINT, SIGTERM, SIGHUP}) {
      sigaddset(&set_, s);
    }
    ::pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~HeldSignals() {
    while (take() != 0) {
    }
    ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  HeldSignals(const HeldSignals&) = delete;
  HeldSignals& operator=(const HeldSignals&) = delete;
  /// The first held signal (consumed), or 0.
  int take() {
    timespec zero{};
    int s = ::sigtimedwait(&set_, nullptr, &zero);
    return s > 0 ? s : 0;
  }

 private:
  sigset_t set_;
  sigset_t old_;
};

// Undo steps of this run, run in reverse on failure. Signals stay held (and are dropped) while
// it runs: a second Ctrl-C must not stop a rollback halfway.
class Rollback {
 public:
  void add(std::string what, std::function<Result<void>()> undo) {
    std::string failed = what + " failed: ";
    steps_.push_back({std::move(what), std::move(failed), std::move(undo)});
  }
  /// Runs after every add()ed step (e.g. restart something once the files it reads are back).
  /// `what` is reported under "rolled back", `failed` followed by the error under "left".
  void addFinal(std::string what, std::string failed, std::function<Result<void>()> undo) {
    finals_.push_back({std::move(what), std::move(failed), std::move(undo)});
  }
  void note(std::string left) { left_.push_back(std::move(left)); }
  void dismiss() {
    steps_.clear();
    finals_.clear();
  }
  // Returns " (rolled back: ...; left: ...)".
  std::string run() {
    std::vector<std::string> done;
    auto undo = [&](const Step& step) {
      if (auto r = step.undo(); r) {
        done.push_back(step.what);
      } else {
        left_.push_back(step.failed + r.error().message());
      }
    };
    for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) {
      undo(*it);
    }
    for (const auto& step : finals_) {
      undo(step);
    }
    dismiss();
    std::string out =
        "; rolled back: " + (done.empty() ? std::string("nothing") : join(done, ", "));
    out += "; left: " + (left_.empty() ? std::string("nothing") : join(left_, ", "));
    return out;
  }

 private:
  struct Step {
    std::string what;
    std::string failed;
    std::function<Result<void>()> undo;
  };
  std::vector<Step> steps_;
  std::vector<Step> finals_;
  std::vector<std::string> left_;
};

std::string tailOfLog(const std::string& path, off_t from) {
  auto text = readFile(path);
  if (!text || static_cast<size_t>(from) >= text->size()) {
    return "";
  }
  std::string t = text->substr(static_cast<size_t>(from));
  while (!t.empty() && t.back() == '\n') {
    t.pop_back();
  }
  size_t start = t.size();
  for (int lines = 0; lines < 3 && start != 0; ++lines) {
    size_t nl = t.rfind('\n', start - 1);
    start = nl == std::string::npos ? 0 : nl;
  }
  if (start < t.size() && t[start] == '\n') {
    ++start;
  }
  std::string last = t.substr(start);
  for (char& c : last) {
    if (c == '\n') {
      c = '|';
    }
  }
  return last;
}

off_t fileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

// `<exe> run ...` as install starts the daemon (also used to restart a previous install's daemon
// from its state file when this run's rollback undoes a restart).
struct DaemonArgs {
  std::string exe;
  std::vector<std::string> addresses;
  std::string base_path;
  std::string conf_path;
  std::string pidfile;
  uint16_t health_port = 8080;
  uint16_t dns_port = 53;
  std::string interface;
  std::string link_kind;
  std::string xtables_lock;
  std::string rules_backend;  // resolved (iptables|nftables); "" = leave it to the daemon (auto)
};

std::vector<std::string> daemonArgv(const DaemonArgs& a) {
  std::vector<std::string> argv = {a.exe,
                                   "run",
                                   "-localip",
                                   join(a.addresses),
                                   "-basecorefile",
                                   a.base_path,
                                   "-conf",
                                   a.conf_path,
                                   "-pidfile",
                                   a.pidfile,
                                   "-health-port",
                                   std::to_string(a.health_port),
                                   "-dns.port",
                                   std::to_string(a.dns_port),
                                   "-interfacename",
                                   a.interface,
                                   "-skipteardown",
                                   "--link-kind",
                                   a.link_kind,
                                   "--xtables-lock",
                                   a.xtables_lock};
  if (!a.rules_backend.empty()) {
    argv.insert(argv.end(), {"--rules-backend", a.rules_backend});
  }
  return argv;
}

// Per address: are its rules entirely absent (this run may remove them on rollback) or only
// partly there (rules this run adds for it are noted, not removed)? An address whose rules
// cannot be read counts as absent: a rollback must not leave NOTRACK rules pointing at an address
// no cache serves (DNS to it would break).
struct RulesBefore {
  std::vector<IpAddress> absent;
  std::vector<IpAddress> partial;
};

/// Stops a daemon this install spawned (`child`): through its pidfile, then SIGKILL and reap if
/// it is still there.
Result<StopReport> stopSpawned(const std::string& pidfile, pid_t child) {
  auto r = stopDaemon(pidfile, std::chrono::seconds(5));
  int status = 0;
  if (!childExited(child, status)) {
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
  }
  return r;
}

RulesBefore rulesBefore(const NodeRules& rules) {
  RulesBefore out;
  for (const IpAddress& ip : rules.ips) {
    NodeRules one = rules;
    one.ips = {ip};
    auto states = checkNodeRules(one);
    size_t present = states ? rulesPresent(*states) : 0;
    if (present == 0) {
      out.absent.push_back(ip);
    } else if (present < states->size()) {
      out.partial.push_back(ip);
    }
  }
  return out;
}

struct KubeletPlan {
  netcfg::KubeletEdit edit;
  std::string kind;                   // "config" / "args"
  std::vector<std::string> original;  // values before any install (from an earlier state)
  std::string backup;
};

Result<int> runInstall(const InstallOptions& o) {
  // Flags first (local addresses; the syntax of --kube-dns and --cluster-upstream): a typo gets
  // its usage error whether or not another run holds the lock, and creates nothing.
  std::vector<IpAddress> local_ips;
  for (const std::string& s : splitCommaList(
           o.local_ips.empty() ? std::vector<std::string>{kDefaultLocalIp} : o.local_ips)) {
    auto ip = IpAddress::parseOrError(s);
    if (!ip) {
      return fail(Errc::kInvalidArgument, "--local-ip: " + ip.error().message());
    }
    if (std::find(local_ips.begin(), local_ips.end(), *ip) == local_ips.end()) {
      local_ips.push_back(*ip);
    }
  }
  for (const auto* flag : {&o.kube_dns, &o.cluster_upstream}) {
    if (!flag->empty()) {
      if (auto ip = IpAddress::parseOrError(*flag); !ip) {
        return fail(Errc::kInvalidArgument,
                    std::string(flag == &o.kube_dns ? "--kube-dns: " : "--cluster-upstream: ") +
                        ip.error().message());
      }
    }
  }

  // One at a time, and before anything is observed (state file, link, daemon, rules): a plan made
  // from what a concurrent teardown was removing would be applied to a node it no longer
  // describes. The dry run changes nothing and takes no lock.
  std::optional<NodeLock> node_lock;
  if (!o.dry_run) {
    auto l = NodeLock::acquire(o.paths.pidfile);
    if (!l) {
      return fail(std::move(l.error()));
    }
    node_lock.emplace(std::move(*l));
  }

  auto prev = loadNodeState(o.paths.state_file);
  if (!prev) {
    return fail(std::move(prev.error()));
  }

  auto isLocal = [&](const IpAddress& ip) {
    return std::find(local_ips.begin(), local_ips.end(), ip) != local_ips.end();
  };

  // kube-dns: the flag, what an earlier install recorded, else kubelet's first clusterDNS.
  IpAddress kube_dns;
  std::string kube_dns_from;
  if (!o.kube_dns.empty()) {
    auto ip = IpAddress::parseOrError(o.kube_dns);
    if (!ip) {
      return fail(Errc::kInvalidArgument, "--kube-dns: " + ip.error().message());
    }
    kube_dns = *ip;
    kube_dns_from = "--kube-dns";
  } else if (*prev && IpAddress::parse((*prev)->kube_dns)) {
    kube_dns = *IpAddress::parse((*prev)->kube_dns);
    kube_dns_from = "state file " + o.paths.state_file;
  } else {
    auto values = netcfg::readClusterDns(o.kubelet_config, netcfg::KubeletFileKind::kConfigYaml);
    if (!values) {
      return fail(
          Errc::kInvalidArgument,
          "no --kube-dns given and the kubelet config cannot be used: " + values.error().message());
    }
    if (values->empty()) {
      return fail(Errc::kInvalidArgument,
                  "no --kube-dns given and '" + o.kubelet_config + "' has no clusterDNS");
    }
    auto ip = IpAddress::parse(values->front());
    if (!ip) {
      return fail(Errc::kInvalidArgument, "first clusterDNS '" + values->front() + "' in '" +
                                              o.kubelet_config +
                                              "' is not an IP address; pass --kube-dns");
    }
    if (isLocal(*ip)) {
      return fail(Errc::kInvalidArgument,
                  "kubelet's clusterDNS already is the local address " + ip->toString() +
                      " and no state file records kube-dns; pass --kube-dns");
    }
    kube_dns = *ip;
    kube_dns_from = "clusterDNS in " + o.kubelet_config;
  }
  if (isLocal(kube_dns)) {
    return fail(Errc::kInvalidArgument,
                "--kube-dns " + kube_dns.toString() + " is also a --local-ip");
  }

  auto mode = detectNodeMode(o.mode, o.kube_proxy_addr);
  if (!mode) {
    return fail(std::move(mode.error()));
  }
  bool ipvs = mode->mode == "ipvs";
  auto backend = detectNodeRulesBackend(o.rules_backend, mode->mode);
  if (!backend) {
    return fail(std::move(backend.error()));
  }
  // A running daemon keeps its rules backend: a new one means a restart.
  bool backend_changes = *prev && (*prev)->rules_backend != backend->mode;

  // Where the cluster zone goes (see the file comment of this command in nodelocaldns(8)).
  IpAddress cluster_dns = kube_dns;
  std::string cluster_from = "kube-dns (ipvs mode)";
  if (!o.cluster_upstream.empty()) {
    auto ip = IpAddress::parseOrError(o.cluster_upstream);
    if (!ip) {
      return fail(Errc::kInvalidArgument, "--cluster-upstream: " + ip.error().message());
    }
    cluster_dns = *ip;
    cluster_from = "--cluster-upstream";
  } else if (!ipvs) {
    if (*prev && (*prev)->mode == mode->mode && IpAddress::parse((*prev)->cluster_upstream)) {
      cluster_dns = *IpAddress::parse((*prev)->cluster_upstream);
      cluster_from = "state file " + o.paths.state_file;
    } else {
      auto ip = lookupClusterUpstream();
      if (!ip) {
        return fail(std::move(ip.error()));
      }
      cluster_dns = *ip;
      cluster_from = "kube-dns-upstream Service (kubectl)";
    }
  }
  if (!ipvs && cluster_dns == kube_dns) {
    return fail(Errc::kInvalidArgument,
                "in " + mode->mode + " mode the kube-dns IP " + kube_dns.toString() +
                    " is intercepted by the cache itself; the cluster zone must go to the "
                    "kube-dns-upstream Service (--cluster-upstream)");
  }
  if (isLocal(cluster_dns)) {
    return fail(Errc::kInvalidArgument,
                "--cluster-upstream " + cluster_dns.toString() + " is a local address (loop)");
  }

  // iptables/nftables: the cache also holds the kube-dns IP (transparent interception).
  std::vector<IpAddress> addresses = local_ips;
  if (!ipvs) {
    addresses.push_back(kube_dns);
  }

  NodeCorefile cf{.local_ips = local_ips,
                  .domain = o.domain,
                  .cluster_dns = cluster_dns,
                  .upstream_servers = o.upstream_servers,
                  .mode = mode->mode,
                  .kube_dns = kube_dns};
  auto corefile = renderNodeCorefile(cf);
  if (!corefile) {
    return fail(std::move(corefile.error()).withContext("render Corefile"));
  }
  const std::string base_path = o.config_dir + "/Corefile.base";
  const std::string conf_path = o.run_dir + "/Corefile";
  auto old_base = fileExists(base_path) ? readFile(base_path) : Result<std::string>(std::string());
  bool base_existed = fileExists(base_path);
  bool base_changes = !old_base || *old_base != *corefile || !base_existed;

  auto exe = o.daemon_exe.empty() ? selfExecutable() : Result<std::string>(o.daemon_exe);
  if (!exe) {
    return fail(std::move(exe.error()));
  }
  std::vector<std::string> argv = daemonArgv({.exe = *exe,
                                              .addresses = toStrings(addresses),
                                              .base_path = base_path,
                                              .conf_path = conf_path,
                                              .pidfile = o.paths.pidfile,
                                              .health_port = o.health_port,
                                              .dns_port = o.dns_port,
                                              .interface = o.interface,
                                              .link_kind = o.link_kind,
                                              .xtables_lock = o.paths.xtables_lock,
                                              .rules_backend = backend->mode});

  NodeRules rules{.ips = addresses,
                  .dns_port = o.dns_port,
                  .health_port = o.health_port,
                  .lock_path = o.paths.xtables_lock,
                  .backend = backend->mode};

  // Kubelet edits (ipvs only): planned now so a problem stops us before anything changes.
  std::vector<KubeletPlan> kubelet;
  std::string kubelet_backup_dir = dirOf(o.paths.state_file);
  if (ipvs && !o.skip_kubelet) {
    std::vector<std::pair<std::string, netcfg::KubeletFileKind>> files = {
        {o.kubelet_config, netcfg::KubeletFileKind::kConfigYaml}};
    if (o.kubelet_extra_args.empty()) {
      for (std::string_view f : netcfg::kDefaultKubeletExtraArgsFiles) {
        files.push_back({std::string(f), netcfg::KubeletFileKind::kExtraArgs});
      }
    } else {
      for (const auto& f : o.kubelet_extra_args) {
        files.push_back({f, netcfg::KubeletFileKind::kExtraArgs});
      }
    }
    bool any_values = false;
    for (size_t i = 0; i < files.size(); ++i) {
      const auto& [path, kind] = files[i];
      if (!fileExists(path)) {
        if (i == 0) {
          return fail(Errc::kInvalidArgument,
                      "ipvs mode: kubelet's clusterDNS must point at the local address, but '" +
                          path +
                          "' does not exist (--kubelet-config, or --skip-kubelet to do it "
                          "yourself)");
        }
        continue;
      }
      auto values = netcfg::readClusterDns(path, kind);
      if (!values) {
        return fail(Errc::kInvalidArgument, values.error().message() + "; file left untouched");
      }
      if (values->empty()) {
        continue;
      }
      any_values = true;
      auto edit =
          netcfg::planKubeletEdit(path, kind, netcfg::pointClusterDnsAt(*values, local_ips));
      if (!edit) {
        return fail(Errc::kInvalidArgument, edit.error().message() + "; file left untouched");
      }
      KubeletPlan plan;
      plan.kind = kind == netcfg::KubeletFileKind::kConfigYaml ? "config" : "args";
      plan.original = edit->before;
      plan.backup =
          kubelet_backup_dir + "/kubelet-" + plan.kind + "-" + std::to_string(i) + ".orig";
      if (*prev) {
        for (const KubeletChange& k : (*prev)->kubelet) {
          if (k.path == path) {  // an earlier install changed it: keep the true original
            plan.original = k.before;
            plan.backup = k.backup;
          }
        }
      }
      plan.edit = std::move(*edit);
      kubelet.push_back(std::move(plan));
    }
    if (!any_values) {
      return fail(Errc::kInvalidArgument,
                  "ipvs mode: no clusterDNS in '" + o.kubelet_config +
                      "' (nor --cluster-dns in an extra-args file) to point at the local "
                      "address; set it yourself and use --skip-kubelet");
    }
  }

  auto observed = observeNodeLink(o.interface);
  if (!observed) {
    return fail(std::move(observed.error()));
  }
  auto running = findDaemon(o.paths.pidfile);
  // A daemon that runs but does not serve (wedged) is restarted: "already installed" over a node
  // whose DNS is broken would send the operator away. Decided by its own health probe, which it
  // answers without upstreams: a cold cache in front of a slow kube-dns is not wedged, and
  // restarting it during a cluster DNS incident would only add an outage of our own.
  const SocketAddress probe{local_ips[0], o.dns_port};
  const auto wait = std::chrono::milliseconds(static_cast<int64_t>(o.wait_seconds * 1000));
  bool unresponsive =
      running && !base_changes && (!dnsPortBound(probe) || !daemonAnswersProbe(probe, kProbeWait));
  bool restart = running && (base_changes || unresponsive || backend_changes);
  const pid_t previous_pid = running.value_or(0);
  const char* restart_why = unresponsive   ? "it does not answer DNS"
                            : base_changes ? "the Corefile changes"
                                           : "the rules backend changes";

  if (o.dry_run) {
    std::string out;
    out += "# nodelocaldns install --dry-run: nothing is changed\n";
    out += "mode: " + mode->mode + " (" + mode->signal + ")\n";
    out += "rules backend: " + backend->mode + " (" + backend->signal + ")\n";
    out += "kube-dns: " + kube_dns.toString() + " (" + kube_dns_from + ")\n";
    out += "cluster zone " + o.domain + " forwarded to: " + cluster_dns.toString() + " (" +
           cluster_from + ")\n";
    out += "\n## link\n" + planNodeLinkText(o.interface, o.link_kind, addresses, *observed);
    out += "\n## Corefile " + base_path + (base_changes ? " (write)" : " (unchanged)") + "\n";
    out += *corefile;
    out += "\n## daemon\n";
    if (running && !restart) {
      out += "already running, pid " + std::to_string(*running) + "\n";
    } else {
      if (running) {
        out += std::string("restart (") + restart_why + "): stop pid " + std::to_string(*running) +
               "\n";
      }
      out += "start: " + commandLineText(argv) + " >>" + o.log_file + " 2>&1\n";
      out += "wait until it answers DNS on " + probe.toString() + "\n";
    }
    out += std::string("\n## rules (") + (rules.backend == "nftables" ? "nft" : "iptables-save") +
           ")\n" + planNodeRulesText(rules);
    out += "(our rules in the " + otherRulesBackend(rules.backend) +
           " backend, if any, are removed)\n";
    out += "\n## kubelet\n";
    if (!ipvs) {
      out += "no change (" + mode->mode + " mode: clusterDNS stays " + kube_dns.toString() +
             ", intercepted on this node)\n";
    } else if (o.skip_kubelet) {
      out += "skipped (--skip-kubelet): point clusterDNS at " + local_ips[0].toString() +
             " yourself\n";
    } else {
      bool any = false;
      for (const auto& k : kubelet) {
        out += netcfg::kubeletDiffText(k.edit);
        any = any || k.edit.changed();
      }
      out += any ? "then kubelet must be restarted\n" : "clusterDNS already points here\n";
    }
    out += "\n## state\nwrite " + o.paths.state_file + "\n";
    std::fputs(out.c_str(), stdout);
    return 0;
  }

  // Rules already there before this run (an earlier install's, or upstream node-cache's) are not
  // ours to roll back; per address, so a reinstall with a new --local-ip takes back only those.
  RulesBefore rules_before = rulesBefore(rules);
  NodeRules our_rules = rules;
  our_rules.ips = rules_before.absent;
  bool rules_undo_added = false;
  auto addRulesUndo = [&](Rollback& rb) {
    if (!our_rules.ips.empty()) {
      rb.add("rules of " + join(toStrings(our_rules.ips)),
             [our_rules]() { return removeNodeRules(our_rules); });
    }
    rules_undo_added = true;
  };

  // ---- apply ----
  HeldSignals held;
  Rollback rollback;
  auto failed = [&](Error e) { return fail(Error(e.code(), e.message() + rollback.run())); };
  int interrupted_by = 0;
  auto interrupted = [&] {
    if (interrupted_by == 0) {
      interrupted_by = held.take();
    }
    return interrupted_by != 0;
  };
  // Rolls back, then exits 128 + the signal number, as a shell reports a command it killed.
  auto interruptedExit = [&]() -> Result<int> {
    std::string message =
        "install interrupted (" + std::string(::strsignal(interrupted_by)) + ")" + rollback.run();
    std::fprintf(stderr, "nodelocaldns: error: %s\n", message.c_str());
    return 128 + interrupted_by;
  };

  // When step 3 stops a running daemon (new Corefile, or wedged), the rollback starts it again
  // after everything else (its Corefile must be back first), from the state file of the install
  // that started it. Without one (a daemon found only through the pidfile), or when it does not
  // come back, nothing serves its addresses: their rules go too, so DNS falls back to kube-dns
  // instead of being NOTRACKed to an address nobody answers on.
  std::function<Result<void>()> restart_previous;
  std::vector<IpAddress> previous_addresses;
  if (restart) {
    std::vector<std::string> served = daemonLocalIps(*running);
    if (*prev) {
      served.insert(served.end(), (*prev)->addresses.begin(), (*prev)->addresses.end());
    }
    for (const std::string& a : served) {
      auto ip = IpAddress::parse(a);
      if (ip && std::find(previous_addresses.begin(), previous_addresses.end(), *ip) ==
                    previous_addresses.end()) {
        previous_addresses.push_back(*ip);
      }
    }
  }
  if (restart && *prev) {
    const NodeState& p = **prev;
    std::vector<std::string> old_argv = daemonArgv({.exe = *exe,
                                                    .addresses = p.addresses,
                                                    .base_path = p.corefile_base,
                                                    .conf_path = p.corefile,
                                                    .pidfile = p.pidfile,
                                                    .health_port = p.health_port,
                                                    .dns_port = p.dns_port,
                                                    .interface = p.interface,
                                                    .link_kind = o.link_kind,
                                                    .xtables_lock = p.xtables_lock,
                                                    .rules_backend = p.rules_backend});
    std::string log_file = p.log_file.empty() ? o.log_file : p.log_file;
    std::optional<SocketAddress> old_probe;
    if (!p.local_ips.empty()) {
      if (auto ip = IpAddress::parse(p.local_ips[0])) {
        old_probe = SocketAddress{*ip, p.dns_port};
      }
    }
    std::string old_pidfile = p.pidfile;
    restart_previous = [old_argv, log_file, old_probe, wait, old_pidfile]() -> Result<void> {
      auto pid = spawnDetached(old_argv, log_file);
      if (!pid) {
        return fail(std::move(pid.error()));
      }
      if (!old_probe) {
        return {};
      }
      auto deadline = std::chrono::steady_clock::now() + wait;
      int status = 0;
      while (std::chrono::steady_clock::now() < deadline) {
        if (childExited(*pid, status)) {
          return fail(Errc::kSystem, "it exited (log " + log_file + ")");
        }
        if (daemonAnswersProbe(*old_probe, std::chrono::milliseconds(500))) {
          return {};
        }
      }
      // Not serving: stop it again, or its sync loop would put back the rules removed next.
      (void)stopSpawned(old_pidfile, *pid);
      return fail(Errc::kTimeout, "it does not answer on " + old_probe->toString());
    };
  }

  // 1. interface and addresses.
  auto link = ensureNodeLink(o.interface, o.link_kind, addresses);
  if (!link) {
    return failed(std::move(link.error()));
  }
  if (link->created || !link->added.empty() || link->brought_up) {
    std::string name = o.interface;
    NodeLinkChange change = *link;
    std::string what = link->created ? "link " + name
                       : link->added.empty()
                           ? "up state of " + name
                           : "addresses " + join(toStrings(link->added)) + " on " + name +
                                 (link->brought_up ? " and its up state" : "");
    rollback.add(what, [name, change]() { return revertNodeLink(name, change); });
  }
  if (!link->fallback_reason.empty()) {
    NLD_LOG(kCli, warn, "link {}: {}", o.interface, link->fallback_reason);
  }
  if (interrupted()) {
    return interruptedExit();
  }

  // 2. Corefile.
  if (base_changes) {
    if (auto r = ensureParentDirs(base_path); !r) {
      return failed(std::move(r.error()));
    }
    AtomicWriteOptions wo;
    if (base_existed) {
      wo.backup_path = base_path + ".bak";
    }
    if (auto r = writeFileAtomic(base_path, *corefile, wo); !r) {
      return failed(std::move(r.error()));
    }
    std::string previous = old_base ? *old_base : std::string();
    rollback.add("Corefile " + base_path, [base_path, base_existed, previous]() -> Result<void> {
      if (base_existed) {
        return writeFileAtomic(base_path, previous);
      }
      if (::unlink(base_path.c_str()) != 0 && errno != ENOENT) {
        return failSys(errno, "remove '" + base_path + "'");
      }
      return {};
    });
  }

  // 3. daemon: start (or restart for a new Corefile) and wait until it answers. A Ctrl-C that
  // came during steps 1-2 must not stop the running daemon only to roll back.
  if (interrupted()) {
    return interruptedExit();
  }
  pid_t daemon_pid = running.value_or(0);  // 0: none
  bool started = false;
  if (restart) {
    auto s = stopDaemon(o.paths.pidfile, std::chrono::seconds(10));
    if (!s) {
      return failed(
          std::move(s.error()).withContext(std::string("restart daemon (") + restart_why + ")"));
    }
    daemon_pid = 0;
    NodeRules previous_rules = rules;
    previous_rules.ips = previous_addresses;
    rollback.addFinal(
        "previous daemon restarted", "previous daemon pid " + std::to_string(previous_pid) + " ",
        [restart_previous, previous_rules]() -> Result<void> {
          std::string why = "no state file records how it was started";
          if (restart_previous) {
            auto r = restart_previous();
            if (r) {
              return {};
            }
            why = r.error().message();
          }
          std::string text = "not restarted (" + why + ")";
          if (!previous_rules.ips.empty()) {
            std::string ips = join(toStrings(previous_rules.ips));
            if (auto rm = removeNodeRules(previous_rules); rm) {
              text += ", so the rules of " + ips + " were removed: DNS falls back to kube-dns";
            } else {
              text += ", and the rules of " + ips +
                      " (nothing serves them) could not be removed: " + rm.error().message() +
                      "; run 'nodelocaldns teardown'";
            }
          }
          return fail(Errc::kSystem, text);
        });
  }
  if (daemon_pid == 0) {
    for (const std::string& p : {conf_path, o.log_file, o.paths.pidfile}) {
      if (auto r = ensureParentDirs(p); !r) {
        return failed(std::move(r.error()));
      }
    }
    // The daemon may add the rules as soon as it has bound; undo them after it is stopped
    // (undo runs in reverse order, so register this first).
    addRulesUndo(rollback);
    off_t log_start = fileSize(o.log_file);
    auto pid = spawnDetached(argv, o.log_file);
    if (!pid) {
      return failed(std::move(pid.error()).withContext("start daemon"));
    }
    started = true;
    std::string pidfile = o.paths.pidfile;
    pid_t child = *pid;
    rollback.add("daemon pid " + std::to_string(child), [pidfile, child]() -> Result<void> {
      auto r = stopSpawned(pidfile, child);
      if (!r) {
        return fail(std::move(r.error()));
      }
      return {};
    });
    auto deadline = std::chrono::steady_clock::now() + wait;
    bool answered = false;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (childExited(child, status)) {
        std::string why = WIFEXITED(status) ? "exit code " + std::to_string(WEXITSTATUS(status))
                                            : "signal " + std::to_string(WTERMSIG(status));
        return failed(Error(Errc::kSystem, "daemon exited (" + why +
                                               "): " + tailOfLog(o.log_file, log_start) + " (log " +
                                               o.log_file + ")"));
      }
      if (daemonAnswersProbe(probe, std::chrono::milliseconds(500))) {
        answered = true;
        break;
      }
      if (interrupted()) {
        return interruptedExit();
      }
    }
    if (!answered) {
      return failed(Error(Errc::kTimeout, "daemon does not answer DNS on " + probe.toString() +
                                              " after " + std::to_string(o.wait_seconds) +
                                              "s (log " + o.log_file + ")"));
    }
    daemon_pid = readPidFile(o.paths.pidfile).value_or(child);
  }

  if (interrupted()) {
    return interruptedExit();
  }

  // 4. rules, only now that the cache answers. (The daemon's own sync loop ensures the same
  // rules right after it has bound; this is the explicit step, and usually finds them there.)
  if (!rules_undo_added) {
    addRulesUndo(rollback);
  }
  auto added = ensureNodeRules(rules);
  if (added && *added > 0 && !rules_before.partial.empty()) {
    rollback.note("rules added next to ones already there for " +
                  join(toStrings(rules_before.partial)));
  }
  if (!added) {
    return failed(std::move(added.error()));
  }

  if (interrupted()) {
    return interruptedExit();
  }

  // 5. kubelet (ipvs).
  NodeState state;
  state.kubelet = *prev ? (*prev)->kubelet : std::vector<KubeletChange>{};
  bool kubelet_changed = false;
  for (const KubeletPlan& k : kubelet) {
    if (k.edit.changed()) {
      if (auto r = ensureParentDirs(k.backup); !r) {
        return failed(std::move(r.error()));
      }
      if (auto r = netcfg::applyKubeletEdit(k.edit, k.backup); !r) {
        return failed(std::move(r.error()));
      }
      kubelet_changed = true;
      auto revert = k.edit;
      std::swap(revert.old_text, revert.new_text);
      rollback.add("kubelet file " + k.edit.path,
                   [revert]() { return netcfg::applyKubeletEdit(revert); });
    }
    bool found = false;
    for (KubeletChange& c : state.kubelet) {
      if (c.path == k.edit.path) {
        c.after = k.edit.after;
        found = true;
      }
    }
    if (!found) {
      state.kubelet.push_back({k.kind, k.edit.path, k.original, k.edit.after, k.backup});
    }
  }

  // Addresses an earlier install served and this one does not: their rules go (the daemon now
  // runs with the new -localip), then, on a link an install created, the addresses too (rules
  // first, as in teardown): an old kube-dns IP left local would capture traffic to a Service
  // that later gets that ClusterIP.
  std::vector<IpAddress> stale;
  bool stale_removed = false;
  if (*prev) {
    for (const std::string& a : (*prev)->addresses) {
      auto ip = IpAddress::parse(a);
      if (ip && std::find(addresses.begin(), addresses.end(), *ip) == addresses.end()) {
        stale.push_back(*ip);
      }
    }
  }
  if (!stale.empty()) {
    NodeRules old_rules = rules;
    old_rules.ips = stale;
    if (auto r = removeNodeRules(old_rules); !r) {
      NLD_LOG(kCli, warn, "remove rules of addresses no longer served ({}): {}",
              join(toStrings(stale)), r.error().message());
    } else if ((*prev)->link_created) {
      NodeLinkChange old_addresses;
      old_addresses.added = stale;
      if (auto a = revertNodeLink((*prev)->interface, old_addresses); !a) {
        NLD_LOG(kCli, warn, "remove addresses no longer served ({}) from {}: {}",
                join(toStrings(stale)), (*prev)->interface, a.error().message());
      } else {
        stale_removed = true;
      }
    }
  }
  // Never both backends: our rules in the other one (an earlier install with another backend, or
  // upstream node-cache's legacy rules) go. Legacy tables that do not exist are not created.
  {
    NodeRules other = otherBackendRules(rules);
    for (const IpAddress& ip : stale) {
      other.ips.push_back(ip);
    }
    auto present = checkNodeRules(other);
    if (!present || totalCopies(*present) > 0) {
      if (auto r = removeNodeRules(other); !r) {
        NLD_LOG(kCli, warn, "remove our {} rules (the {} backend is in use): {}", other.backend,
                rules.backend, r.error().message());
      } else {
        NLD_LOG(kCli, info, "removed our {} rules: the {} backend is in use", other.backend,
                rules.backend);
      }
    }
  }

  // 6. state.
  state.mode = mode->mode;
  state.mode_signal = mode->signal;
  state.interface = o.interface;
  state.link_kind = link->kind;
  state.link_created = link->created || (*prev && (*prev)->link_created);
  state.addresses = toStrings(addresses);
  state.local_ips = toStrings(local_ips);
  state.kube_dns = kube_dns.toString();
  state.cluster_upstream = cluster_dns.toString();
  state.domain = o.domain;
  state.dns_port = o.dns_port;
  state.health_port = o.health_port;
  state.pidfile = o.paths.pidfile;
  state.corefile_base = base_path;
  state.corefile = conf_path;
  state.log_file = o.log_file;
  state.xtables_lock = o.paths.xtables_lock;
  state.rules_backend = backend->mode;
  state.rules_backend_signal = backend->signal;
  state.daemon_command = commandLineText(argv);
  state.kubelet_config = o.kubelet_config;
  state.installed_at = *prev ? (*prev)->installed_at : static_cast<int64_t>(std::time(nullptr));
  if (!*prev || formatNodeState(**prev) != formatNodeState(state)) {
    if (auto r = saveNodeState(o.paths.state_file, state); !r) {
      return failed(std::move(r.error()));
    }
  }
  rollback.dismiss();

  size_t rules_total = 0;
  if (auto now = checkNodeRules(rules)) {
    rules_total = rulesPresent(*now);
  }
  bool changed = link->created || !link->added.empty() || base_changes || started || *added > 0 ||
                 kubelet_changed || stale_removed || backend_changes;
  std::string out;
  if (!changed) {
    out += "nodelocaldns is already installed; nothing changed\n";
  }
  out += "mode: " + mode->mode + " (" + mode->signal + ")\n";
  out += "rules backend: " + backend->mode + " (" + backend->signal + ")\n";
  out += "link " + o.interface + ": " +
         (link->created ? "created (" + link->kind + ")" : std::string("present")) +
         ", addresses " + join(toStrings(addresses), " ") + "\n";
  out += "daemon: pid " + std::to_string(daemon_pid) + (started ? " started" : " running") +
         ", answering on " + probe.toString() +
         (unresponsive ? " (restarted: pid " + std::to_string(previous_pid) +
                             " was running but did not answer DNS)"
                       : "") +
         "\n";
  if (stale_removed) {
    out += "removed addresses no longer served, and their rules: " + join(toStrings(stale), " ") +
           "\n";
  }
  out += "cluster zone " + o.domain + " -> " + cluster_dns.toString() + " (" + cluster_from + ")\n";
  out += "rules: " + std::to_string(rules_total) + " present (" + std::to_string(*added) +
         " added by install; the daemon keeps them in place)\n";
  if (kubelet_changed) {
    out += "kubelet: clusterDNS now points at " + local_ips[0].toString() +
           "; restart kubelet to apply it (systemctl restart kubelet); undo with "
           "'nodelocaldns revert-kubelet'\n";
  }
  std::fputs(out.c_str(), stdout);
  return 0;
}

}  // namespace

Command addInstallCommand(CLI::App& app) {
  auto opts = std::make_shared<InstallOptions>();
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
