#include "cli/node/install_apply.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>

#include "base/atomic_file.h"
#include "base/log.h"
#include "base/strings.h"
#include "cli/node/daemon.h"
#include "cli/node/rollback.h"

namespace nld::cli {
namespace {

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

Result<void> removeFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return failSys(errno, "remove '" + path + "'");
  }
  return {};
}

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

// Per address: are its rules entirely absent (this run may remove them on rollback) or only
// partly there (rules this run adds for it are noted, not removed)? An address whose rules
// cannot be read counts as absent: a rollback must not leave NOTRACK rules pointing at an address
// no cache serves (DNS to it would break).
struct RulesBefore {
  std::vector<IpAddress> absent;
  std::vector<IpAddress> partial;
};

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

// Starts the earlier install's daemon again and waits until it answers (rollback of a restart).
Result<void> startPrevious(const PreviousDaemon& d, std::chrono::milliseconds wait) {
  auto pid = spawnDetached(d.argv, d.log_file);
  if (!pid) {
    return fail(std::move(pid.error()));
  }
  if (!d.probe) {
    return {};
  }
  auto deadline = std::chrono::steady_clock::now() + wait;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (childExited(*pid, status)) {
      return fail(Errc::kSystem, "it exited (log " + d.log_file + ")");
    }
    if (daemonAnswersProbe(*d.probe, std::chrono::milliseconds(500))) {
      return {};
    }
  }
  // Not serving: stop it again, or its sync loop would put back the rules removed next.
  (void)stopSpawned(d.pidfile, *pid);
  return fail(Errc::kTimeout, "it does not answer on " + d.probe->toString());
}

// One install run: the plan, its undo steps and held signals, and what it did for the report.
class Apply {
 public:
  explicit Apply(const InstallPlan& plan) : p_(plan), in_(plan.in) {}
  Result<int> run();

 private:
  Result<int> failed(const Error& e) { return fail(Error(e.code(), e.message() + rollBack())); }
  bool interrupted() {
    if (interrupted_by_ == 0) {
      interrupted_by_ = held_.take();
    }
    return interrupted_by_ != 0;
  }
  // Rolls back, then exits 128 + the signal number, as a shell reports a command it killed.
  Result<int> interruptedExit() {
    std::string message = "install interrupted (" + signalText(interrupted_by_) + ")" + rollBack();
    std::fprintf(stderr, "nodelocaldns: error: %s\n", message.c_str());
    return 128 + interrupted_by_;
  }
  // The pending record goes once nothing of this run is left.
  std::string rollBack() {
    std::string out = rollback_.run();
    if (out.size() >= 15 && out.compare(out.size() - 15, 15, "; left: nothing") == 0) {
      (void)removeFile(pendingStateFile(in_.paths.state_file));
    }
    return out;
  }
  void addRulesUndo();
  Result<void> link();
  Result<void> corefile();
  Result<void> stopForRestart();
  Result<void> startDaemon();
  Result<void> kubelet();
  void removeStale();
  void removeOtherBackend();
  Result<void> saveState();
  void report() const;

  const InstallPlan& p_;
  const InstallInputs& in_;
  HeldSignals held_;
  Rollback rollback_;
  int interrupted_by_ = 0;
  NodeRules our_rules_;  // the rules this run may remove on rollback
  RulesBefore rules_before_;
  bool rules_undo_added_ = false;
  NodeLinkChange link_;
  pid_t daemon_pid_ = 0;
  bool started_ = false;
  unsigned added_ = 0;
  bool kubelet_changed_ = false;
  bool stale_removed_ = false;
};

void Apply::addRulesUndo() {
  if (!our_rules_.ips.empty()) {
    NodeRules ours = our_rules_;
    rollback_.add("rules of " + join(ours.ips, ","), [ours]() { return removeNodeRules(ours); });
  }
  rules_undo_added_ = true;
}

// 1. interface and addresses.
Result<void> Apply::link() {
  auto link = ensureNodeLink(in_.interface, in_.link_kind, p_.addresses);
  if (!link) {
    return fail(std::move(link.error()));
  }
  link_ = *link;
  if (link->created || !link->added.empty() || link->brought_up) {
    std::string name = in_.interface;
    NodeLinkChange change = *link;
    std::string what = link->created ? "link " + name
                       : link->added.empty()
                           ? "up state of " + name
                           : "addresses " + join(link->added, ",") + " on " + name +
                                 (link->brought_up ? " and its up state" : "");
    rollback_.add(what, [name, change]() { return revertNodeLink(name, change); });
  }
  if (!link->fallback_reason.empty()) {
    NLD_LOG(kCli, warn, "link {}: {}", in_.interface, link->fallback_reason);
  }
  return {};
}

// 2. Corefile.
Result<void> Apply::corefile() {
  if (!p_.base_changes) {
    return {};
  }
  const std::string base_path = p_.base_path;
  if (auto r = ensureParentDirs(base_path); !r) {
    return r;
  }
  AtomicWriteOptions wo;
  if (p_.base_existed) {
    wo.backup_path = base_path + ".bak";
  }
  if (auto r = writeFileAtomic(base_path, p_.corefile, wo); !r) {
    return r;
  }
  bool existed = p_.base_existed;
  std::string previous = p_.old_base;
  rollback_.add("Corefile " + base_path, [base_path, existed, previous]() -> Result<void> {
    if (existed) {
      return writeFileAtomic(base_path, previous);
    }
    return removeFile(base_path);
  });
  return {};
}

// 3a. A running daemon that must restart is stopped; the rollback starts it again after
// everything else (its Corefile must be back first), from the state file of the install that
// started it. Without one (a daemon found only through the pidfile), or when it does not come
// back, nothing serves its addresses: their rules go too, so DNS falls back to kube-dns instead
// of being NOTRACKed to an address nobody answers on.
Result<void> Apply::stopForRestart() {
  auto s = stopDaemon(in_.paths.pidfile, std::chrono::seconds(10));
  if (!s) {
    return fail(std::move(s.error()).withContext("restart daemon (" + p_.restart_why + ")"));
  }
  daemon_pid_ = 0;
  NodeRules previous_rules = p_.rules;
  previous_rules.ips = p_.previous_addresses;
  std::optional<PreviousDaemon> previous = p_.previous;
  auto wait = p_.wait;
  rollback_.addFinal(
      "previous daemon restarted", "previous daemon pid " + std::to_string(*p_.running) + " ",
      [previous, wait, previous_rules]() -> Result<void> {
        std::string why = "no state file records how it was started";
        if (previous) {
          auto r = startPrevious(*previous, wait);
          if (r) {
            return {};
          }
          why = r.error().message();
        }
        std::string text = "not restarted (" + why + ")";
        if (!previous_rules.ips.empty()) {
          std::string ips = join(previous_rules.ips, ",");
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
  return {};
}

// 3b. Start the daemon and wait until it answers.
Result<void> Apply::startDaemon() {
  for (const std::string& path : {p_.conf_path, in_.log_file, in_.paths.pidfile}) {
    if (auto r = ensureParentDirs(path); !r) {
      return r;
    }
  }
  // The daemon may add the rules as soon as it has bound; undo them after it is stopped (undo
  // runs in reverse order, so register this first), and the Corefile it generates too.
  addRulesUndo();
  if (!p_.conf_existed) {
    std::string conf = p_.conf_path;
    rollback_.add("Corefile " + conf, [conf]() { return removeFile(conf); });
  }
  off_t log_start = fileSize(in_.log_file);
  auto pid = spawnDetached(p_.argv, in_.log_file);
  if (!pid) {
    return fail(std::move(pid.error()).withContext("start daemon"));
  }
  started_ = true;
  std::string pidfile = in_.paths.pidfile;
  pid_t child = *pid;
  rollback_.add("daemon pid " + std::to_string(child), [pidfile, child]() -> Result<void> {
    auto r = stopSpawned(pidfile, child);
    if (!r) {
      return fail(std::move(r.error()));
    }
    return {};
  });
  auto deadline = std::chrono::steady_clock::now() + p_.wait;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (childExited(child, status)) {
      std::string why = WIFEXITED(status) ? "exit code " + std::to_string(WEXITSTATUS(status))
                                          : "signal " + std::to_string(WTERMSIG(status));
      return fail(Errc::kSystem, "daemon exited (" + why +
                                     "): " + tailOfLog(in_.log_file, log_start) + " (log " +
                                     in_.log_file + ")");
    }
    if (daemonAnswersProbe(p_.probe, std::chrono::milliseconds(500))) {
      daemon_pid_ = readPidFile(in_.paths.pidfile).value_or(child);
      return {};
    }
    if (interrupted()) {
      return {};  // the caller sees the signal
    }
  }
  return fail(Errc::kTimeout, "daemon does not answer DNS on " + p_.probe.toString() + " after " +
                                  std::to_string(in_.wait_seconds) + "s (log " + in_.log_file +
                                  ")");
}

// 5. kubelet (ipvs).
Result<void> Apply::kubelet() {
  for (const KubeletPlan& k : p_.kubelet) {
    if (!k.edit.changed()) {
      continue;
    }
    if (auto r = ensureParentDirs(k.backup); !r) {
      return r;
    }
    if (auto r = netcfg::applyKubeletEdit(k.edit, k.backup); !r) {
      return r;
    }
    kubelet_changed_ = true;
    auto revert = k.edit;
    std::swap(revert.old_text, revert.new_text);
    rollback_.add("kubelet file " + k.edit.path,
                  [revert]() { return netcfg::applyKubeletEdit(revert); });
  }
  return {};
}

// Addresses an earlier install served and this one does not: their rules go (the daemon now runs
// with the new -localip), then, on a link an install created, the addresses too (rules first, as
// in teardown): an old kube-dns IP left local would capture traffic to a Service that later gets
// that ClusterIP.
void Apply::removeStale() {
  if (p_.stale.empty()) {
    return;
  }
  NodeRules old_rules = p_.rules;
  old_rules.ips = p_.stale;
  if (auto r = removeNodeRules(old_rules); !r) {
    NLD_LOG(kCli, warn, "remove rules of addresses no longer served ({}): {}", join(p_.stale, ","),
            r.error().message());
  } else if (p_.prev->link_created) {
    NodeLinkChange old_addresses;
    old_addresses.added = p_.stale;
    if (auto a = revertNodeLink(p_.prev->interface, old_addresses); !a) {
      NLD_LOG(kCli, warn, "remove addresses no longer served ({}) from {}: {}", join(p_.stale, ","),
              p_.prev->interface, a.error().message());
    } else {
      stale_removed_ = true;
    }
  }
}

// Never both backends: our rules in the other one (an earlier install with another backend, or
// upstream node-cache's legacy rules) go. Legacy tables that do not exist are not created.
void Apply::removeOtherBackend() {
  NodeRules other = otherBackendRules(p_.rules);
  for (const IpAddress& ip : p_.stale) {
    other.ips.push_back(ip);
  }
  auto present = checkNodeRules(other);
  if (present && totalCopies(*present) == 0) {
    return;
  }
  std::string_view ours = netcfg::toString(other.backend);
  std::string_view used = netcfg::toString(p_.rules.backend);
  if (auto r = removeNodeRules(other); !r) {
    NLD_LOG(kCli, warn, "remove our {} rules (the {} backend is in use): {}", ours, used,
            r.error().message());
  } else {
    NLD_LOG(kCli, info, "removed our {} rules: the {} backend is in use", ours, used);
  }
}

// 6. state, then the pending record goes.
Result<void> Apply::saveState() {
  NodeState state = p_.state;
  state.link_kind = link_.kind;
  state.link_created = link_.created || (p_.prev && p_.prev->link_created);
  state.installed_at = p_.prev ? p_.prev->installed_at : static_cast<int64_t>(std::time(nullptr));
  if (!p_.prev || formatNodeState(*p_.prev) != formatNodeState(state)) {
    if (auto r = saveNodeState(in_.paths.state_file, state); !r) {
      return r;
    }
  }
  return removeFile(pendingStateFile(in_.paths.state_file));
}

void Apply::report() const {
  size_t rules_total = 0;
  if (auto now = checkNodeRules(p_.rules)) {
    rules_total = rulesPresent(*now);
  }
  bool changed = link_.created || !link_.added.empty() || p_.base_changes || started_ ||
                 added_ > 0 || kubelet_changed_ || stale_removed_ || p_.backend_changes;
  std::string out;
  if (!changed) {
    out += "nodelocaldns is already installed; nothing changed\n";
  }
  out += "mode: " + std::string(toString(p_.mode.mode)) + " (" + p_.mode.signal + ")\n";
  out += "rules backend: " + std::string(netcfg::toString(p_.backend.backend)) + " (" +
         p_.backend.signal + ")\n";
  out += "link " + in_.interface + ": " +
         (link_.created ? "created (" + std::string(netcfg::toString(link_.kind)) + ")"
                        : std::string("present")) +
         ", addresses " + join(p_.addresses, " ") + "\n";
  out += "daemon: pid " + std::to_string(daemon_pid_) + (started_ ? " started" : " running") +
         ", answering on " + p_.probe.toString() +
         (p_.unresponsive ? " (restarted: pid " + std::to_string(p_.running.value_or(0)) +
                                " was running but did not answer DNS)"
                          : "") +
         "\n";
  if (stale_removed_) {
    out += "removed addresses no longer served, and their rules: " + join(p_.stale, " ") + "\n";
  }
  out += "cluster zone " + in_.domain + " -> " + p_.cluster_dns.toString() + " (" +
         p_.cluster_from + ")\n";
  out += "rules: " + std::to_string(rules_total) + " present (" + std::to_string(added_) +
         " added by install; the daemon keeps them in place)\n";
  if (kubelet_changed_) {
    out += "kubelet: clusterDNS now points at " + in_.local_ips[0].toString() +
           "; restart kubelet to apply it (systemctl restart kubelet); undo with "
           "'nodelocaldns revert-kubelet'\n";
  }
  std::fputs(out.c_str(), stdout);
}

Result<int> Apply::run() {
  // Rules already there before this run (an earlier install's, or upstream node-cache's) are not
  // ours to roll back; per address, so a reinstall with a new --local-ip takes back only those.
  rules_before_ = rulesBefore(p_.rules);
  our_rules_ = p_.rules;
  our_rules_.ips = rules_before_.absent;
  daemon_pid_ = p_.running.value_or(0);
  if (auto r = saveNodeState(pendingStateFile(in_.paths.state_file), p_.state); !r) {
    return fail(std::move(r.error()));
  }
  if (auto r = link(); !r) {
    return failed(r.error());
  }
  if (interrupted()) {
    return interruptedExit();
  }
  if (auto r = corefile(); !r) {
    return failed(r.error());
  }
  // A Ctrl-C that came during steps 1-2 must not stop the running daemon only to roll back.
  if (interrupted()) {
    return interruptedExit();
  }
  if (p_.restart) {
    if (auto r = stopForRestart(); !r) {
      return failed(r.error());
    }
  }
  if (daemon_pid_ == 0) {
    if (auto r = startDaemon(); !r) {
      return failed(r.error());
    }
  }
  if (interrupted()) {
    return interruptedExit();
  }
  // 4. rules, only now that the cache answers. (The daemon's own sync loop ensures the same rules
  // right after it has bound; this is the explicit step, and usually finds them there.)
  if (!rules_undo_added_) {
    addRulesUndo();
  }
  auto added = ensureNodeRules(p_.rules);
  if (added && *added > 0 && !rules_before_.partial.empty()) {
    rollback_.note("rules added next to ones already there for " +
                   join(rules_before_.partial, ","));
  }
  if (!added) {
    return failed(added.error());
  }
  added_ = *added;
  if (interrupted()) {
    return interruptedExit();
  }
  if (auto r = kubelet(); !r) {
    return failed(r.error());
  }
  removeStale();
  removeOtherBackend();
  if (auto r = saveState(); !r) {
    return failed(r.error());
  }
  rollback_.dismiss();
  report();
  return 0;
}

}  // namespace

Result<int> applyInstall(const InstallPlan& plan) { return Apply(plan).run(); }

}  // namespace nld::cli
