#include "cli/node/teardown.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/atomic_file.h"
#include "base/strings.h"
#include "cli/node/daemon.h"
#include "cli/node/kubelet.h"

namespace nld::cli {
namespace {

void addIp(std::vector<IpAddress>& ips, const IpAddress& ip) {
  if (std::find(ips.begin(), ips.end(), ip) == ips.end()) {
    ips.push_back(ip);
  }
}

void addPath(std::vector<std::string>& paths, const std::string& path) {
  if (!path.empty() && std::find(paths.begin(), paths.end(), path) == paths.end()) {
    paths.push_back(path);
  }
}

bool isLinkLocalV6(const IpAddress& ip) {
  return ip.isV6() && ip.bytes()[0] == 0xfe && (ip.bytes()[1] & 0xc0) == 0x80;
}

// `<path>.tmp.*` beside `path`: what writeFileAtomic() leaves when the writer dies.
void findTmpSiblings(const std::string& path, std::vector<std::string>& out) {
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  std::string prefix = (slash == std::string::npos ? path : path.substr(slash + 1)) + ".tmp.";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    return;
  }
  while (dirent* e = ::readdir(d)) {
    if (std::strncmp(e->d_name, prefix.c_str(), prefix.size()) == 0) {
      addPath(out, (dir == "/" ? "" : dir) + "/" + e->d_name);
    }
  }
  ::closedir(d);
}

// The files an install (recorded in `s`) writes, and their atomic-write temporaries.
std::vector<std::string> ourFiles(const NodeState& s) { return {s.corefile_base, s.corefile}; }

void removeFiles(const TeardownPlan& p, TeardownReport& r) {
  for (const std::string& f : p.files) {
    if (::unlink(f.c_str()) == 0) {
      r.done.push_back("removed " + f);
    } else if (errno != ENOENT) {
      r.problems.push_back("remove " + f + ": " + errnoText(errno));
    }
  }
  for (const std::string& f : p.quiet_files) {
    ::unlink(f.c_str());
  }
}

// A daemon an install spawned just before it was killed, before the daemon wrote its pidfile:
// found by its command line, stopped the same way.
void stopUnrecorded(const std::string& pidfile, std::chrono::milliseconds grace,
                    TeardownReport& r) {
  for (pid_t pid : findDaemonsByCommandLine(pidfile)) {
    if (!writeFileAtomic(pidfile, std::to_string(pid) + "\n")) {
      continue;
    }
    auto stopped = stopDaemon(pidfile, grace);
    if (!stopped) {
      r.problems.push_back("daemon: " + stopped.error().message());
    } else if (stopped->was_running) {
      r.done.push_back("stopped daemon pid " + std::to_string(stopped->pid) + " (no pidfile)");
    }
    ::unlink(pidfile.c_str());
  }
}

// Removes every copy from both backends; false if the selected backend's rules could not go.
bool removeRules(const TeardownPlan& p, TeardownReport& r) {
  bool removed = true;
  for (const NodeRules* set : {&p.rules, &p.other_rules}) {
    const bool selected = set == &p.rules;
    const std::string name(netcfg::toString(set->backend));
    auto before = checkNodeRules(*set);
    unsigned present = before ? totalCopies(*before) : 0;
    auto rm = removeNodeRules(*set);
    if (!rm && !selected && rm.error().code() == Errc::kUnsupported) {
      continue;  // e.g. no nf_tables in this kernel: nothing of ours can be there
    }
    if (!rm) {
      // The link stays while the selected backend's rules do; the other backend's failure is
      // reported, and named below if rules are left there.
      removed = removed && !selected;
      r.problems.push_back((selected ? "rules: " : "rules (" + name + "): ") +
                           rm.error().message());
    } else if (present > 0) {
      r.done.push_back("removed " + std::to_string(present) + " rule(s)" +
                       (selected ? "" : " from the " + name + " backend"));
    }
  }
  return removed;
}

// Kubelet: back to what the record says it was; returns the records still to revert.
std::vector<KubeletChange> revertKubelet(const TeardownInputs& in, const TeardownPlan& p,
                                         TeardownReport& r) {
  if (!p.record || p.record->kubelet.empty()) {
    return {};
  }
  if (in.keep_kubelet) {
    r.done.push_back(
        "kept kubelet's clusterDNS (--keep-kubelet); revert with 'nodelocaldns revert-kubelet'");
    return p.record->kubelet;
  }
  auto k = revertKubeletChanges(p.record->kubelet, false);
  r.done.insert(r.done.end(), k.done.begin(), k.done.end());
  r.problems.insert(r.problems.end(), k.problems.begin(), k.problems.end());
  if (!k.diff.empty()) {
    r.done.push_back("restart kubelet to apply its clusterDNS (systemctl restart kubelet)");
  }
  return k.remaining;
}

// What is still there after the steps.
void verify(const TeardownInputs& in, const TeardownPlan& p,
            const std::vector<KubeletChange>& kubelet_left, TeardownReport& r) {
  if (auto pid = findDaemon(p.pidfile)) {
    r.left.push_back("daemon pid " + std::to_string(*pid));
  }
  if (auto l = observeNodeLink(p.interface); l && *l && !p.foreign_link) {
    r.left.push_back("link " + p.interface);
  }
  for (const NodeRules* set : {&p.rules, &p.other_rules}) {
    auto after = checkNodeRules(*set);
    if (!after) {
      continue;
    }
    std::vector<std::string> rules_left;
    for (const auto& rule : *after) {
      if (rule.copies > 0) {
        rules_left.push_back(rule.line);
      }
    }
    if (!rules_left.empty()) {
      r.left.push_back(std::to_string(rules_left.size()) +
                       (set == &p.rules ? "" : " " + std::string(netcfg::toString(set->backend))) +
                       " rule(s) (first: '" + rules_left[0] + "')");
    }
  }
  for (const KubeletChange& k : kubelet_left) {
    if (!in.keep_kubelet) {
      r.left.push_back("kubelet clusterDNS in " + k.path);
    }
  }
}

// The state file (and pending record) go only when nothing is left: a second teardown (say, once
// the xtables lock is free) must still know every address whose rules may remain.
void updateRecords(const TeardownInputs& in, const TeardownPlan& p,
                   const std::vector<KubeletChange>& kubelet_left, TeardownReport& r) {
  if (!p.record) {
    return;
  }
  if (r.left.empty() && kubelet_left.empty()) {
    if (auto rm = removeNodeState(in.paths.state_file); !rm) {
      r.problems.push_back(rm.error().message());
    }
    (void)removeNodeState(pendingStateFile(in.paths.state_file));
  } else if (p.from_state_file) {
    NodeState rest = *p.record;
    rest.kubelet = kubelet_left;
    if (auto s = saveNodeState(in.paths.state_file, rest); !s) {
      r.problems.push_back(s.error().message());
    }
  }
}

std::vector<IpAddress> addressesOf(const NodeState& s) { return s.addresses; }

}  // namespace

TeardownObservation observeTeardown(const TeardownInputs& in, std::string pidfile,
                                    Result<std::optional<NodeState>> state) {
  TeardownObservation ob;
  ob.pidfile = std::move(pidfile);
  ob.state = std::move(state);
  if (auto pending = loadNodeState(pendingStateFile(in.paths.state_file)); pending) {
    ob.pending = std::move(*pending);
  }
  std::string interface = in.interface;
  if (interface.empty()) {
    interface = ob.state && *ob.state ? (*ob.state)->interface
                : ob.pending          ? ob.pending->interface
                                      : std::string(kDefaultInterface);
  }
  ob.link = observeNodeLink(interface);
  ob.detected_backend = detectNodeRulesBackend(std::nullopt, std::nullopt);
  std::vector<std::string> ours = {in.paths.state_file, pendingStateFile(in.paths.state_file)};
  for (const auto* s :
       {ob.state && *ob.state ? &**ob.state : nullptr, ob.pending ? &*ob.pending : nullptr}) {
    if (s != nullptr) {
      for (const std::string& f : ourFiles(*s)) {
        addPath(ours, f);
      }
    }
  }
  for (const std::string& f : ours) {
    if (!f.empty()) {
      findTmpSiblings(f, ob.leftovers);
    }
  }
  return ob;
}

TeardownPlan planTeardown(const TeardownInputs& in, const TeardownObservation& ob) {
  TeardownPlan p;
  p.pidfile = ob.pidfile;
  if (!ob.state) {
    p.problems.push_back("state file unreadable (" + ob.state.error().message() + "), using flags");
  } else if (*ob.state) {
    p.record = **ob.state;
    p.from_state_file = true;
  }
  if (!p.record && ob.pending) {
    p.record = *ob.pending;
  }
  const NodeState none;
  const NodeState& s = p.record ? *p.record : none;
  p.interface = !in.interface.empty() ? in.interface
                : p.record            ? s.interface
                                      : std::string(kDefaultInterface);
  // Rules, for every address we know of: recorded (state file and pending record), given, and
  // on our interface.
  std::vector<IpAddress> ips = addressesOf(s);
  if (ob.pending) {
    for (const IpAddress& ip : addressesOf(*ob.pending)) {
      addIp(ips, ip);
    }
  }
  for (const IpAddress& ip : in.extra_ips) {
    addIp(ips, ip);
  }
  if (!ob.link) {
    p.problems.push_back("link " + p.interface + ": " + ob.link.error().message());
  } else if (*ob.link && !netcfg::isAdoptableLinkKind((*ob.link)->kind)) {
    p.foreign_link = true;
    p.problems.push_back("link " + p.interface + " has kind '" + (*ob.link)->kind +
                         "', not dummy or bridge: not ours, not touching it");
  } else if (*ob.link) {
    for (const IpAddress& ip : (*ob.link)->addresses) {
      if (!isLinkLocalV6(ip)) {
        addIp(ips, ip);
      }
    }
  }
  p.link_present = ob.link && *ob.link;
  if (ips.empty()) {
    addIp(ips, *IpAddress::parse(kDefaultLocalIp));
  }
  // The selected backend (flag, else as installed, else detected) first, then the other one;
  // the other one's legacy tables are only read if they exist (opening one would create it).
  RulesBackend backend = in.rules_backend ? *in.rules_backend
                         : p.record       ? s.rules_backend
                                          : ob.detected_backend.backend;
  p.rules = NodeRules{
      .ips = ips,
      .dns_port = in.dns_port ? in.dns_port : (p.record ? s.dns_port : uint16_t{53}),
      .health_port = in.health_port ? in.health_port : (p.record ? s.health_port : uint16_t{8080}),
      .lock_path = in.xtables_lock_given || !p.record ? in.paths.xtables_lock : s.xtables_lock,
      .backend = backend};
  p.other_rules = otherBackendRules(p.rules);
  // Files: ours by both records; quietly the previous Corefile kept by install, temporaries of
  // interrupted writes, and kubelet backups once reverted (see apply).
  const NodeState* pending = ob.pending ? &*ob.pending : nullptr;
  const NodeState* record = p.record ? &*p.record : nullptr;
  for (const NodeState* r : {record, pending}) {
    if (r == nullptr) {
      continue;
    }
    for (const std::string& f : ourFiles(*r)) {
      addPath(p.files, f);
    }
    if (!r->corefile_base.empty()) {
      addPath(p.quiet_files, r->corefile_base + ".bak");
    }
  }
  for (const std::string& f : ob.leftovers) {
    addPath(p.quiet_files, f);
  }
  return p;
}

TeardownReport applyTeardown(const TeardownInputs& in, const TeardownPlan& plan) {
  TeardownReport r;
  r.problems = plan.problems;
  TeardownPlan p = plan;
  // 1. daemon.
  auto stopped = stopDaemon(p.pidfile, in.grace);
  if (!stopped) {
    r.problems.push_back("daemon: " + stopped.error().message());
  } else if (stopped->was_running) {
    r.done.push_back("stopped daemon pid " + std::to_string(stopped->pid) +
                     (stopped->killed ? " (SIGKILL after SIGTERM timed out)" : ""));
  }
  stopUnrecorded(p.pidfile, in.grace, r);
  // 2. rules. 3. the interface (only a kind we create: a foreign veth of the same name stays),
  // kept while rules remain: its addresses tell a later teardown which rules to remove (even
  // without a state file), and queries to an address still present fail fast.
  bool rules_removed = removeRules(p, r);
  if (!rules_removed && p.link_present && !p.foreign_link) {
    r.problems.push_back("kept link " + p.interface + " because its rules could not be removed");
  } else if (!p.foreign_link) {
    if (auto rm = removeNodeLink(p.interface); !rm) {
      r.problems.push_back("link " + p.interface + ": " + rm.error().message());
    } else if (*rm) {
      r.done.push_back("removed link " + p.interface);
    }
  }
  // 4. kubelet. 5. our files (the records only once nothing is left, below).
  std::vector<KubeletChange> kubelet_left = revertKubelet(in, p, r);
  if (kubelet_left.empty() && !in.keep_kubelet && p.record) {
    for (const KubeletChange& k : p.record->kubelet) {
      addPath(p.quiet_files, k.backup);
    }
  }
  removeFiles(p, r);
  // 6. verify: name whatever is left.
  verify(in, p, kubelet_left, r);
  updateRecords(in, p, kubelet_left, r);
  return r;
}

Result<int> printTeardownReport(const TeardownReport& r) {
  std::string out = r.done.empty() ? "nothing to tear down\n" : join(r.done, "\n") + "\n";
  std::fputs(out.c_str(), stdout);
  for (const auto& p : r.problems) {
    std::fprintf(stderr, "nodelocaldns: warning: %s\n", p.c_str());
  }
  if (!r.left.empty()) {
    return fail(Errc::kSystem, "teardown left: " + join(r.left, "; "));
  }
  return 0;
}

}  // namespace nld::cli
