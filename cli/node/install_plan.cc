#include "cli/node/install_plan.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "base/atomic_file.h"
#include "base/strings.h"
#include "cli/node/daemon.h"
#include "cli/node/flags.h"
#include "resolver/config/config.h"

namespace nld::cli {
namespace {

// How long a running daemon has to answer its health probe before install calls it wedged. It
// answers that itself in microseconds; the probe is resent (5 ms, doubling to 200 ms) meanwhile,
// so a busy node gets several tries.
constexpr std::chrono::milliseconds kProbeWait{2000};

void addUnique(std::vector<IpAddress>& ips, const IpAddress& ip) {
  if (std::find(ips.begin(), ips.end(), ip) == ips.end()) {
    ips.push_back(ip);
  }
}

bool fileExists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

std::string dirOf(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

Result<std::optional<IpAddress>> optionalIp(const std::string& text, const char* flag) {
  if (text.empty()) {
    return std::optional<IpAddress>();
  }
  auto ip = IpAddress::parseOrError(text);
  if (!ip) {
    return fail(Errc::kInvalidArgument, std::string(flag) + ": " + ip.error().message());
  }
  return std::optional<IpAddress>(*ip);
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

// The kubelet files install may edit: the config, then the extra-args files.
std::vector<std::pair<std::string, netcfg::KubeletFileKind>> kubeletFiles(const InstallInputs& in) {
  std::vector<std::pair<std::string, netcfg::KubeletFileKind>> files = {
      {in.kubelet_config, netcfg::KubeletFileKind::kConfigYaml}};
  if (in.kubelet_extra_args.empty()) {
    for (std::string_view f : netcfg::kDefaultKubeletExtraArgsFiles) {
      files.push_back({std::string(f), netcfg::KubeletFileKind::kExtraArgs});
    }
  } else {
    for (const auto& f : in.kubelet_extra_args) {
      files.push_back({f, netcfg::KubeletFileKind::kExtraArgs});
    }
  }
  return files;
}

// netcfg::readClusterDns() on observed text.
Result<std::vector<std::string>> clusterDnsOf(const KubeletFileObservation& f) {
  if (!f.text) {
    return fail(Error(f.text.error()));
  }
  auto spans = netcfg::findClusterDns(*f.text, f.kind);
  if (!spans) {
    return fail(Error(spans.error()).withContext("'" + f.path + "'"));
  }
  std::vector<std::string> values;
  for (auto& s : *spans) {
    values.push_back(std::move(s.value));
  }
  return values;
}

// netcfg::planKubeletEdit() on observed text.
Result<netcfg::KubeletEdit> kubeletEditOf(const KubeletFileObservation& f,
                                          const std::vector<std::string>& before,
                                          const std::vector<std::string>& values) {
  auto replaced = netcfg::replaceClusterDns(*f.text, f.kind, values);
  if (!replaced) {
    return fail(std::move(replaced.error()).withContext("'" + f.path + "'"));
  }
  return netcfg::KubeletEdit{.path = f.path,
                             .kind = f.kind,
                             .old_text = *f.text,
                             .new_text = std::move(*replaced),
                             .before = before,
                             .after = values};
}

Result<std::optional<IpAddress>> kubeDnsFromKubelet(const InstallInputs& in,
                                                    const InstallObservation& ob) {
  auto values = ob.kubelet.empty() ? Result<std::vector<std::string>>(
                                         fail(Errc::kInvalidArgument, "no kubelet config observed"))
                                   : clusterDnsOf(ob.kubelet.front());
  if (!values) {
    return fail(
        Errc::kInvalidArgument,
        "no --kube-dns given and the kubelet config cannot be used: " + values.error().message());
  }
  if (values->empty()) {
    return fail(Errc::kInvalidArgument,
                "no --kube-dns given and '" + in.kubelet_config + "' has no clusterDNS");
  }
  auto ip = IpAddress::parse(values->front());
  if (!ip) {
    return fail(Errc::kInvalidArgument, "first clusterDNS '" + values->front() + "' in '" +
                                            in.kubelet_config +
                                            "' is not an IP address; pass --kube-dns");
  }
  return std::optional<IpAddress>(*ip);
}

bool isLocal(const InstallInputs& in, const IpAddress& ip) {
  return std::find(in.local_ips.begin(), in.local_ips.end(), ip) != in.local_ips.end();
}

// kube-dns: the flag, what an earlier install recorded, else kubelet's first clusterDNS.
Result<void> planKubeDns(const InstallInputs& in, const InstallObservation& ob, InstallPlan& p) {
  if (in.kube_dns) {
    p.kube_dns = *in.kube_dns;
    p.kube_dns_from = "--kube-dns";
  } else if (ob.prev && ob.prev->kube_dns) {
    p.kube_dns = *ob.prev->kube_dns;
    p.kube_dns_from = "state file " + in.paths.state_file;
  } else {
    auto ip = kubeDnsFromKubelet(in, ob);
    if (!ip) {
      return fail(std::move(ip.error()));
    }
    if (isLocal(in, **ip)) {
      return fail(Errc::kInvalidArgument,
                  "kubelet's clusterDNS already is the local address " + (*ip)->toString() +
                      " and no state file records kube-dns; pass --kube-dns");
    }
    p.kube_dns = **ip;
    p.kube_dns_from = "clusterDNS in " + in.kubelet_config;
  }
  if (isLocal(in, p.kube_dns)) {
    return fail(Errc::kInvalidArgument,
                "--kube-dns " + p.kube_dns.toString() + " is also a --local-ip");
  }
  return {};
}

// Where the cluster zone goes (see the file comment of this command in nodelocaldns(8)).
Result<void> planClusterUpstream(const InstallInputs& in, const InstallObservation& ob,
                                 InstallPlan& p) {
  const bool ipvs = p.mode.mode == netcfg::ProxyMode::kIpvs;
  p.cluster_dns = p.kube_dns;
  p.cluster_from = "kube-dns (ipvs mode)";
  if (in.cluster_upstream) {
    p.cluster_dns = *in.cluster_upstream;
    p.cluster_from = "--cluster-upstream";
  } else if (!ipvs && !needsKubectlUpstream(in, ob.prev, p.mode.mode)) {
    p.cluster_dns = *ob.prev->cluster_upstream;
    p.cluster_from = "state file " + in.paths.state_file;
  } else if (!ipvs) {
    if (!ob.kubectl_upstream) {
      return fail(Errc::kInvalidArgument, "kube-dns-upstream Service not looked up");
    }
    if (!*ob.kubectl_upstream) {
      return fail(Error(ob.kubectl_upstream->error()));
    }
    p.cluster_dns = **ob.kubectl_upstream;
    p.cluster_from = "kube-dns-upstream Service (kubectl)";
  }
  if (!ipvs && p.cluster_dns == p.kube_dns) {
    return fail(Errc::kInvalidArgument,
                "in " + std::string(toString(p.mode.mode)) + " mode the kube-dns IP " +
                    p.kube_dns.toString() +
                    " is intercepted by the cache itself; the cluster zone must go to the "
                    "kube-dns-upstream Service (--cluster-upstream)");
  }
  // The cache serves port 53 on every --local-ip, and the cluster zone is forwarded to port 53.
  if (resolver::config::isForwardingLoop(SocketAddress{p.cluster_dns, 53}, in.local_ips, {53})) {
    return fail(Errc::kInvalidArgument,
                "--cluster-upstream " + p.cluster_dns.toString() + " is a local address (loop)");
  }
  return {};
}

// Kubelet edits (ipvs only): planned before anything changes, so a problem stops install first.
Result<void> planKubelet(const InstallInputs& in, const InstallObservation& ob, InstallPlan& p) {
  const std::string backup_dir = dirOf(in.paths.state_file);
  bool any_values = false;
  for (size_t i = 0; i < ob.kubelet.size(); ++i) {
    const KubeletFileObservation& f = ob.kubelet[i];
    if (!f.exists) {
      if (i == 0) {
        return fail(Errc::kInvalidArgument,
                    "ipvs mode: kubelet's clusterDNS must point at the local address, but '" +
                        f.path +
                        "' does not exist (--kubelet-config, or --skip-kubelet to do it "
                        "yourself)");
      }
      continue;
    }
    auto values = clusterDnsOf(f);
    if (!values) {
      return fail(Errc::kInvalidArgument, values.error().message() + "; file left untouched");
    }
    if (values->empty()) {
      continue;
    }
    any_values = true;
    auto edit = kubeletEditOf(f, *values, netcfg::pointClusterDnsAt(*values, in.local_ips));
    if (!edit) {
      return fail(Errc::kInvalidArgument, edit.error().message() + "; file left untouched");
    }
    KubeletPlan k;
    k.kind = f.kind == netcfg::KubeletFileKind::kConfigYaml ? "config" : "args";
    k.original = edit->before;
    k.backup = backup_dir + "/kubelet-" + k.kind + "-" + std::to_string(i) + ".orig";
    for (const KubeletChange& c : ob.prev ? ob.prev->kubelet : std::vector<KubeletChange>{}) {
      if (c.path == f.path) {  // an earlier install changed it: keep the true original
        k.original = c.before;
        k.backup = c.backup;
      }
    }
    k.edit = std::move(*edit);
    p.kubelet.push_back(std::move(k));
  }
  if (!any_values) {
    return fail(Errc::kInvalidArgument,
                "ipvs mode: no clusterDNS in '" + in.kubelet_config +
                    "' (nor --cluster-dns in an extra-args file) to point at the local "
                    "address; set it yourself and use --skip-kubelet");
  }
  return {};
}

// The daemon: keep it, start it, or restart it (new Corefile, new backend, wedged).
void planDaemon(const InstallInputs& in, const InstallObservation& ob, InstallPlan& p) {
  p.running = ob.daemon;
  // A daemon that runs but does not serve (wedged) is restarted: "already installed" over a node
  // whose DNS is broken would send the operator away. Decided by its own health probe, which it
  // answers without upstreams: a cold cache in front of a slow kube-dns is not wedged, and
  // restarting it during a cluster DNS incident would only add an outage of our own.
  p.unresponsive = ob.daemon && !p.base_changes && !ob.daemon_answers;
  p.restart = ob.daemon && (p.base_changes || p.unresponsive || p.backend_changes);
  p.restart_why = p.unresponsive   ? "it does not answer DNS"
                  : p.base_changes ? "the Corefile changes"
                                   : "the rules backend changes";
  if (!p.restart) {
    return;
  }
  // What the stopped daemon served: the rollback restarts it from the state file of the install
  // that started it, or (without one, or when it does not come back) removes those rules.
  for (const IpAddress& ip : ob.daemon_serves) {
    addUnique(p.previous_addresses, ip);
  }
  if (!ob.prev) {
    return;
  }
  const NodeState& s = *ob.prev;
  for (const IpAddress& ip : s.addresses) {
    addUnique(p.previous_addresses, ip);
  }
  PreviousDaemon d;
  d.argv = daemonArgv({.exe = *ob.exe,
                       .addresses = s.addresses,
                       .base_path = s.corefile_base,
                       .conf_path = s.corefile,
                       .pidfile = s.pidfile,
                       .health_port = s.health_port,
                       .dns_port = s.dns_port,
                       .interface = s.interface,
                       .link_kind = in.link_kind,
                       .xtables_lock = s.xtables_lock,
                       .rules_backend = s.rules_backend});
  d.log_file = s.log_file.empty() ? in.log_file : s.log_file;
  if (!s.local_ips.empty()) {
    d.probe = SocketAddress{s.local_ips[0], s.dns_port};
  }
  d.pidfile = s.pidfile;
  p.previous = std::move(d);
}

// The state to record once everything is applied (and, before, as the pending record).
NodeState plannedState(const InstallInputs& in, const InstallPlan& p) {
  NodeState state;
  state.kubelet = p.prev ? p.prev->kubelet : std::vector<KubeletChange>{};
  for (const KubeletPlan& k : p.kubelet) {
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
  state.mode = p.mode.mode;
  state.mode_signal = p.mode.signal;
  state.interface = in.interface;
  state.link_kind = in.link_kind;
  state.link_created = p.prev && p.prev->link_created;
  state.addresses = p.addresses;
  state.local_ips = in.local_ips;
  state.kube_dns = p.kube_dns;
  state.cluster_upstream = p.cluster_dns;
  state.domain = in.domain;
  state.dns_port = in.dns_port;
  state.health_port = in.health_port;
  state.pidfile = in.paths.pidfile;
  state.corefile_base = p.base_path;
  state.corefile = p.conf_path;
  state.log_file = in.log_file;
  state.xtables_lock = in.paths.xtables_lock;
  state.rules_backend = p.backend.backend;
  state.rules_backend_signal = p.backend.signal;
  state.daemon_command = commandLineText(p.argv);
  state.kubelet_config = in.kubelet_config;
  state.installed_at = p.prev ? p.prev->installed_at : 0;
  return state;
}

// Corefile, daemon command line, rules, stale addresses: what follows from mode and addresses.
Result<void> planFiles(const InstallInputs& in, const InstallObservation& ob, InstallPlan& p) {
  auto corefile = renderNodeCorefile({.local_ips = in.local_ips,
                                      .domain = in.domain,
                                      .cluster_dns = p.cluster_dns,
                                      .upstream_servers = in.upstream_servers,
                                      .mode = p.mode.mode,
                                      .kube_dns = p.kube_dns});
  if (!corefile) {
    return fail(std::move(corefile.error()).withContext("render Corefile"));
  }
  p.corefile = std::move(*corefile);
  p.base_path = in.config_dir + "/Corefile.base";
  p.conf_path = in.run_dir + "/Corefile";
  p.base_existed = ob.corefile_base_exists;
  p.old_base = ob.corefile_base.value_or(std::string());
  p.base_changes = !ob.corefile_base || *ob.corefile_base != p.corefile || !p.base_existed;
  p.conf_existed = ob.corefile_exists;
  if (!ob.exe) {
    return fail(Error(ob.exe.error()));
  }
  p.argv = daemonArgv({.exe = *ob.exe,
                       .addresses = p.addresses,
                       .base_path = p.base_path,
                       .conf_path = p.conf_path,
                       .pidfile = in.paths.pidfile,
                       .health_port = in.health_port,
                       .dns_port = in.dns_port,
                       .interface = in.interface,
                       .link_kind = in.link_kind,
                       .xtables_lock = in.paths.xtables_lock,
                       .rules_backend = p.backend.backend});
  p.rules = NodeRules{.ips = p.addresses,
                      .dns_port = in.dns_port,
                      .health_port = in.health_port,
                      .lock_path = in.paths.xtables_lock,
                      .backend = p.backend.backend};
  // Addresses an earlier install served and this one does not: their rules (and, on a link an
  // install created, the addresses) go once the daemon runs with the new -localip.
  for (const IpAddress& ip : ob.prev ? ob.prev->addresses : std::vector<IpAddress>{}) {
    if (std::find(p.addresses.begin(), p.addresses.end(), ip) == p.addresses.end()) {
      p.stale.push_back(ip);
    }
  }
  return {};
}

}  // namespace

std::vector<std::string> daemonArgv(const DaemonArgs& a) {
  return {a.exe,
          "run",
          "-localip",
          join(a.addresses, ","),
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
          std::string(netcfg::toString(a.link_kind)),
          "--xtables-lock",
          a.xtables_lock,
          "--rules-backend",
          std::string(netcfg::toString(a.rules_backend))};
}

Result<InstallInputs> installInputs(const InstallFlags& f) {
  InstallInputs in;
  // Local addresses, then the syntax of --kube-dns and --cluster-upstream: a typo gets its usage
  // error whether or not another run holds the lock, and creates nothing.
  for (const std::string& s : splitCommaList(
           f.local_ips.empty() ? std::vector<std::string>{kDefaultLocalIp} : f.local_ips)) {
    auto ip = IpAddress::parseOrError(s);
    if (!ip) {
      return fail(Errc::kInvalidArgument, "--local-ip: " + ip.error().message());
    }
    addUnique(in.local_ips, *ip);
  }
  auto kube_dns = optionalIp(f.kube_dns, "--kube-dns");
  if (!kube_dns) {
    return fail(std::move(kube_dns.error()));
  }
  auto upstream = optionalIp(f.cluster_upstream, "--cluster-upstream");
  if (!upstream) {
    return fail(std::move(upstream.error()));
  }
  in.kube_dns = *kube_dns;
  in.cluster_upstream = *upstream;
  if (f.mode != "auto") {
    auto m = netcfg::parseProxyMode(f.mode);
    if (!m) {
      return fail(Errc::kInvalidArgument, "--mode: " + m.error().message());
    }
    in.mode = *m;
  }
  if (f.rules_backend != "auto") {
    auto b = netcfg::parseRulesBackend(f.rules_backend);
    if (!b) {
      return fail(Errc::kInvalidArgument, "--rules-backend: " + b.error().message());
    }
    in.rules_backend = *b;
  }
  auto kind = netcfg::parseLinkKind(f.link_kind);
  if (!kind) {
    return fail(Errc::kInvalidArgument, "--link-kind: " + kind.error().message());
  }
  in.link_kind = *kind;
  in.paths = f.paths;
  in.domain = f.domain;
  in.kube_proxy_addr = f.kube_proxy_addr;
  in.interface = f.interface;
  in.upstream_servers = f.upstream_servers;
  in.kubelet_config = f.kubelet_config;
  in.kubelet_extra_args = f.kubelet_extra_args;
  in.skip_kubelet = f.skip_kubelet;
  in.config_dir = f.config_dir;
  in.run_dir = f.run_dir;
  in.log_file = f.log_file;
  in.wait_seconds = f.wait_seconds;
  in.dry_run = f.dry_run;
  in.daemon_exe = f.daemon_exe;
  return in;
}

bool needsKubectlUpstream(const InstallInputs& in, const std::optional<NodeState>& prev,
                          netcfg::ProxyMode mode) {
  if (in.cluster_upstream || mode == netcfg::ProxyMode::kIpvs) {
    return false;
  }
  return !(prev && prev->mode == mode && prev->cluster_upstream);
}

Result<InstallObservation> observeInstall(const InstallInputs& in) {
  InstallObservation ob;
  auto prev = loadNodeState(in.paths.state_file);
  if (!prev) {
    return fail(std::move(prev.error()));
  }
  ob.prev = std::move(*prev);
  for (const auto& [path, kind] : kubeletFiles(in)) {
    ob.kubelet.push_back({path, kind, fileExists(path), readFile(path)});
  }
  ob.detected_mode = detectNodeMode(in.mode, in.kube_proxy_addr);
  std::optional<netcfg::ProxyMode> mode;
  if (ob.detected_mode) {
    mode = ob.detected_mode->mode;
  }
  ob.detected_backend = detectNodeRulesBackend(in.rules_backend, mode);
  if (mode && needsKubectlUpstream(in, ob.prev, *mode)) {
    ob.kubectl_upstream = lookupClusterUpstream();
  }
  const std::string base_path = in.config_dir + "/Corefile.base";
  ob.corefile_base_exists = fileExists(base_path);
  ob.corefile_base = ob.corefile_base_exists ? readFile(base_path) : Result<std::string>("");
  ob.corefile_exists = fileExists(in.run_dir + "/Corefile");
  ob.exe = in.daemon_exe.empty() ? selfExecutable() : Result<std::string>(in.daemon_exe);
  auto link = observeNodeLink(in.interface);
  if (!link) {
    return fail(std::move(link.error()));
  }
  ob.link = std::move(*link);
  ob.daemon = findDaemon(in.paths.pidfile);
  if (ob.daemon) {
    const SocketAddress probe{in.local_ips[0], in.dns_port};
    ob.daemon_answers = dnsPortBound(probe) && daemonAnswersProbe(probe, kProbeWait);
    for (const std::string& a : daemonLocalIps(*ob.daemon)) {
      if (auto ip = IpAddress::parse(a)) {
        ob.daemon_serves.push_back(*ip);
      }
    }
  }
  return ob;
}

Result<InstallPlan> planInstall(const InstallInputs& in, const InstallObservation& ob) {
  InstallPlan p;
  p.in = in;
  p.prev = ob.prev;
  if (auto r = planKubeDns(in, ob, p); !r) {
    return fail(std::move(r.error()));
  }
  if (!ob.detected_mode) {
    return fail(Error(ob.detected_mode.error()));
  }
  p.mode = *ob.detected_mode;
  p.backend = ob.detected_backend;
  // A running daemon keeps its rules backend: a new one means a restart.
  p.backend_changes = ob.prev && ob.prev->rules_backend != p.backend.backend;
  if (auto r = planClusterUpstream(in, ob, p); !r) {
    return fail(std::move(r.error()));
  }
  // iptables/nftables: the cache also holds the kube-dns IP (transparent interception).
  p.addresses = in.local_ips;
  if (p.mode.mode != netcfg::ProxyMode::kIpvs) {
    p.addresses.push_back(p.kube_dns);
  }
  if (auto r = planFiles(in, ob, p); !r) {
    return fail(std::move(r.error()));
  }
  if (p.mode.mode == netcfg::ProxyMode::kIpvs && !in.skip_kubelet) {
    if (auto r = planKubelet(in, ob, p); !r) {
      return fail(std::move(r.error()));
    }
  }
  p.link = ob.link;
  p.probe = SocketAddress{in.local_ips[0], in.dns_port};
  p.wait = std::chrono::milliseconds(static_cast<int64_t>(in.wait_seconds * 1000));
  planDaemon(in, ob, p);
  p.state = plannedState(in, p);
  return p;
}

std::string formatPlan(const InstallPlan& p) {
  const InstallInputs& in = p.in;
  const std::string mode = std::string(toString(p.mode.mode));
  std::string out;
  out += "# nodelocaldns install --dry-run: nothing is changed\n";
  out += "mode: " + mode + " (" + p.mode.signal + ")\n";
  out += "rules backend: " + std::string(netcfg::toString(p.backend.backend)) + " (" +
         p.backend.signal + ")\n";
  out += "kube-dns: " + p.kube_dns.toString() + " (" + p.kube_dns_from + ")\n";
  out += "cluster zone " + in.domain + " forwarded to: " + p.cluster_dns.toString() + " (" +
         p.cluster_from + ")\n";
  out += "\n## link\n" + planNodeLinkText(in.interface, in.link_kind, p.addresses, p.link);
  out += "\n## Corefile " + p.base_path + (p.base_changes ? " (write)" : " (unchanged)") + "\n";
  out += p.corefile;
  out += "\n## daemon\n";
  if (p.running && !p.restart) {
    out += "already running, pid " + std::to_string(*p.running) + "\n";
  } else {
    if (p.running) {
      out += "restart (" + p.restart_why + "): stop pid " + std::to_string(*p.running) + "\n";
    }
    out += "start: " + commandLineText(p.argv) + " >>" + in.log_file + " 2>&1\n";
    out += "wait until it answers DNS on " + p.probe.toString() + "\n";
  }
  out += std::string("\n## rules (") +
         (p.rules.backend == RulesBackend::kNftables ? "nft" : "iptables-save") + ")\n" +
         planNodeRulesText(p.rules);
  out += "(our rules in the " + std::string(netcfg::toString(otherRulesBackend(p.rules.backend))) +
         " backend, if any, are removed)\n";
  out += "\n## kubelet\n";
  if (p.mode.mode != netcfg::ProxyMode::kIpvs) {
    out += "no change (" + mode + " mode: clusterDNS stays " + p.kube_dns.toString() +
           ", intercepted on this node)\n";
  } else if (in.skip_kubelet) {
    out += "skipped (--skip-kubelet): point clusterDNS at " + in.local_ips[0].toString() +
           " yourself\n";
  } else {
    bool any = false;
    for (const auto& k : p.kubelet) {
      out += netcfg::kubeletDiffText(k.edit);
      any = any || k.edit.changed();
    }
    out += any ? "then kubelet must be restarted\n" : "clusterDNS already points here\n";
  }
  out += "\n## state\nwrite " + in.paths.state_file + "\n";
  return out;
}

}  // namespace nld::cli
