// `nodelocaldns teardown`: undo install. Stop the daemon (SIGTERM, bounded wait, SIGKILL), remove
// every copy of the rules (ours or upstream node-cache's) from BOTH rules backends (legacy
// iptables and our nftables table: a node may have switched), then the interface (rules first: no
// window where queries hit a missing address while still being NOTRACKed, kubernetes/dns#690),
// put kubelet's clusterDNS back, remove our files. Best effort: every step is tried; the exit code
// is non-zero only if something is left afterwards, and the message names it. Works without a
// state file (after a crash, or for an upstream node-cache's leftovers) from flags and what the
// interface holds.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "cli/commands.h"
#include "cli/node/daemon.h"
#include "cli/node/flags.h"
#include "cli/node/kubelet.h"
#include "cli/node/ops.h"
#include "cli/node/lock.h"
#include "cli/node/state.h"

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

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) {
    out += (out.empty() ? "" : sep) + s;
  }
  return out;
}

void addIp(std::vector<IpAddress>& ips, const IpAddress& ip) {
  if (std::find(ips.begin(), ips.end(), ip) == ips.end()) {
    ips.push_back(ip);
  }
}

bool isOurLinkKind(const std::string& kind) { return kind == "dummy" || kind == "bridge"; }

bool isLinkLocalV6(const IpAddress& ip) {
  return ip.isV6() && ip.bytes()[0] == 0xfe && (ip.bytes()[1] & 0xc0) == 0x80;
}

Result<int> runTeardown(const TeardownOptions& o, const CLI::App* cmd) {
  std::vector<std::string> done;
  std::vector<std::string> problems;
  auto given = [cmd](const char* flag) { return cmd->count(flag) > 0; };
  // Locked first, then read: the state a concurrent install wrote is the one torn down.
  auto locked = lockNodeState(o.paths.state_file, o.paths.pidfile, given("--pidfile"));
  if (!locked) {
    return fail(std::move(locked.error()));
  }
  const auto& loaded = locked->state;
  NodeState state;
  bool have_state = false;
  if (!loaded) {
    problems.push_back("state file unreadable (" + loaded.error().message() + "), using flags");
  } else if (*loaded) {
    state = **loaded;
    have_state = true;
  }
  const std::string pidfile = locked->pidfile;
  std::string lock =
      given("--xtables-lock") || !have_state ? o.paths.xtables_lock : state.xtables_lock;
  std::string interface = !o.interface.empty() ? o.interface
                          : have_state        ? state.interface
                                              : std::string(kDefaultInterface);

  // 1. daemon.
  auto stopped =
      stopDaemon(pidfile, std::chrono::milliseconds(static_cast<int64_t>(o.grace_seconds * 1000)));
  if (!stopped) {
    problems.push_back("daemon: " + stopped.error().message());
  } else if (stopped->was_running) {
    done.push_back("stopped daemon pid " + std::to_string(stopped->pid) +
                   (stopped->killed ? " (SIGKILL after SIGTERM timed out)" : ""));
  }

  // 2. rules, for every address we know of.
  std::vector<IpAddress> ips;
  for (const auto& s : state.addresses) {
    if (auto ip = IpAddress::parse(s)) {
      addIp(ips, *ip);
    }
  }
  for (const auto& s : splitCommaList(o.local_ips)) {
    auto ip = IpAddress::parseOrError(s);
    if (!ip) {
      return fail(Errc::kInvalidArgument, "--local-ip: " + ip.error().message());
    }
    addIp(ips, *ip);
  }
  if (!o.kube_dns.empty()) {
    auto ip = IpAddress::parseOrError(o.kube_dns);
    if (!ip) {
      return fail(Errc::kInvalidArgument, "--kube-dns: " + ip.error().message());
    }
    addIp(ips, *ip);
  }
  auto link = observeNodeLink(interface);
  if (!link) {
    problems.push_back("link " + interface + ": " + link.error().message());
  } else if (*link && !isOurLinkKind((*link)->kind)) {
    problems.push_back("link " + interface + " has kind '" + (*link)->kind +
                       "', not dummy or bridge: not ours, not touching it");
  } else if (*link) {
    for (const IpAddress& ip : (*link)->addresses) {
      if (!isLinkLocalV6(ip)) {
        addIp(ips, ip);
      }
    }
  }
  if (ips.empty()) {
    addIp(ips, *IpAddress::parse(kDefaultLocalIp));
  }
  // The selected backend (flag, else as installed, else detected) first, then the other one;
  // the other one's legacy tables are only read if they exist (opening one would create it).
  std::optional<RulesBackend> chosen;
  if (auto b = netcfg::parseRulesBackend(o.rules_backend)) {
    chosen = *b;
  } else if (have_state) {
    chosen = netcfg::parseRulesBackend(state.rules_backend).value_or(RulesBackend::kIptables);
  }
  RulesBackend backend = detectNodeRulesBackend(chosen, std::nullopt).backend;
  NodeRules rules{
      .ips = ips,
      .dns_port = o.dns_port ? o.dns_port : (have_state ? state.dns_port : uint16_t{53}),
      .health_port =
          o.health_port ? o.health_port : (have_state ? state.health_port : uint16_t{8080}),
      .lock_path = lock,
      .backend = backend};
  NodeRules other_rules = otherBackendRules(rules);
  bool rules_removed = true;
  for (const NodeRules* set : {&rules, &other_rules}) {
    auto before = checkNodeRules(*set);
    unsigned present = before ? totalCopies(*before) : 0;
    auto r = removeNodeRules(*set);
    if (!r && set != &rules && r.error().code() == Errc::kUnsupported) {
      continue;  // e.g. no nf_tables in this kernel: nothing of ours can be there
    }
    if (!r) {
      // The link stays while the selected backend's rules do (see 3.); the other backend's
      // failure is reported, and named below if rules are left there.
      rules_removed = rules_removed && set != &rules;
      problems.push_back((set == &rules ? "rules: " : "rules (" + std::string(netcfg::toString(set->backend)) + "): ") +
                         r.error().message());
    } else if (present > 0) {
      done.push_back("removed " + std::to_string(present) + " rule(s)" +
                     (set == &rules ? "" : " from the " + std::string(netcfg::toString(set->backend)) + " backend"));
    }
  }

  // 3. the interface (only a kind we create: a foreign veth of the same name stays). Kept while
  // rules remain: its addresses tell a later teardown which rules to remove (even without a
  // state file), and queries to an address still present fail fast instead of being routed away.
  bool foreign = link && *link && !isOurLinkKind((*link)->kind);
  if (!rules_removed && link && *link && !foreign) {
    problems.push_back("kept link " + interface + " because its rules could not be removed");
  } else if (!foreign) {
    if (auto r = removeNodeLink(interface); !r) {
      problems.push_back("link " + interface + ": " + r.error().message());
    } else if (*r) {
      done.push_back("removed link " + interface);
    }
  }

  // 4. kubelet.
  std::vector<KubeletChange> kubelet_left;
  if (have_state && !state.kubelet.empty()) {
    if (o.keep_kubelet) {
      kubelet_left = state.kubelet;
      done.push_back(
          "kept kubelet's clusterDNS (--keep-kubelet); revert with "
          "'nodelocaldns revert-kubelet'");
    } else {
      auto k = revertKubeletChanges(state.kubelet, false);
      for (auto& d : k.done) {
        done.push_back(d);
      }
      for (auto& p : k.problems) {
        problems.push_back(p);
      }
      kubelet_left = k.remaining;
      if (!k.diff.empty()) {
        done.push_back("restart kubelet to apply its clusterDNS (systemctl restart kubelet)");
      }
    }
  }

  // 5. our files.
  for (const std::string& f : {state.corefile_base, state.corefile}) {
    if (!f.empty() && ::unlink(f.c_str()) == 0) {
      done.push_back("removed " + f);
    } else if (!f.empty() && errno != ENOENT) {
      problems.push_back("remove " + f + ": " + std::strerror(errno));
    }
  }
  // Quiet removals: the previous Corefile kept by install, kubelet backups once reverted.
  std::vector<std::string> extra;
  if (!state.corefile_base.empty()) {
    extra.push_back(state.corefile_base + ".bak");
  }
  if (kubelet_left.empty() && !o.keep_kubelet) {
    for (const KubeletChange& k : state.kubelet) {
      if (!k.backup.empty()) {
        extra.push_back(k.backup);
      }
    }
  }
  for (const std::string& f : extra) {
    ::unlink(f.c_str());
  }
  // 6. verify: name whatever is left.
  std::vector<std::string> left;
  if (auto pid = findDaemon(pidfile)) {
    left.push_back("daemon pid " + std::to_string(*pid));
  }
  if (auto l = observeNodeLink(interface); l && *l && !foreign) {
    left.push_back("link " + interface);
  }
  for (const NodeRules* set : {&rules, &other_rules}) {
    if (auto after = checkNodeRules(*set)) {
      std::vector<std::string> rules_left;
      for (const auto& r : *after) {
        if (r.copies > 0) {
          rules_left.push_back(r.line);
        }
      }
      if (!rules_left.empty()) {
        left.push_back(std::to_string(rules_left.size()) +
                       (set == &rules ? "" : " " + std::string(netcfg::toString(set->backend))) + " rule(s) (first: '" +
                       rules_left[0] + "')");
      }
    }
  }
  for (const KubeletChange& k : kubelet_left) {
    if (!o.keep_kubelet) {
      left.push_back("kubelet clusterDNS in " + k.path);
    }
  }

  // The state file goes only when nothing is left: a second teardown (say, once the xtables lock
  // is free) must still know every address whose rules may remain.
  if (have_state) {
    if (left.empty() && kubelet_left.empty()) {
      if (auto r = removeNodeState(o.paths.state_file); !r) {
        problems.push_back(r.error().message());
      }
    } else {
      NodeState rest = state;
      rest.kubelet = kubelet_left;
      if (auto r = saveNodeState(o.paths.state_file, rest); !r) {
        problems.push_back(r.error().message());
      }
    }
  }

  std::string out = done.empty() ? "nothing to tear down\n" : join(done, "\n") + "\n";
  std::fputs(out.c_str(), stdout);
  for (const auto& p : problems) {
    std::fprintf(stderr, "nodelocaldns: warning: %s\n", p.c_str());
  }
  if (!left.empty()) {
    return fail(Errc::kSystem, "teardown left: " + join(left, "; "));
  }
  return 0;
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
