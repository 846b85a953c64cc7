#include <algorithm>

#include "base/log.h"
#include "cli/run/daemon_impl.h"

namespace nld::cli::daemon_detail {

netcfg::RulesOptions Daemon::rulesOptions() const {
  netcfg::RulesOptions opts;
  opts.backend = backend_;
  opts.lock_path = cfg_.xtables_lock;
  return opts;
}

// Once at start-up: the backend (flag, else detected), logged with the deciding signal.
void Daemon::chooseRulesBackend() {
  if (!cfg_.setup_iptables) {
    return;
  }
  if (cfg_.rules_backend) {
    backend_ = *cfg_.rules_backend;
    NLD_LOG(kRules, info, "rules backend {} (--rules-backend)", netcfg::toString(backend_));
  } else {
    auto d = netcfg::detectRulesBackend();
    backend_ = d.backend;
    backend_by_default_ = d.by_default;
    backend_by_count_ = d.by_rule_count;
    NLD_LOG(kRules, info, "rules backend {} (auto: {})", netcfg::toString(backend_), d.signal);
  }
}

// While `auto` had nothing to go on: a signal that appears later decides (rule counts included),
// and the next ensure moves our rules (ensure in the new backend, then the old one's copies are
// removed). While it had only rule counts: only a stronger signal moves us. (nftables chosen by
// counts is then kept by our own table, step 4, once the first ensure made it.)
void Daemon::redetectRulesBackend() {
  if (!backend_by_default_ && !backend_by_count_) {
    return;
  }
  auto d = netcfg::detectRulesBackend();
  if (d.by_default || (d.by_rule_count && backend_by_count_)) {
    return;
  }
  backend_by_default_ = false;
  backend_by_count_ = d.by_rule_count;
  if (d.backend != backend_) {
    NLD_LOG(kRules, info, "rules backend {} (auto, now: {}); moving our rules from {}",
            netcfg::toString(d.backend), d.signal, netcfg::toString(backend_));
    backend_ = d.backend;
    other_backend_warned_ = false;
  }
}

// After every ensure, so the node never has both backends: our rules in the other one go (a node
// that switched, or a predecessor still running the other backend during a hand-over re-adding
// them). Legacy tables that do not exist are not created. One read when there is nothing to do.
void Daemon::removeOtherBackendRules() {
  if (!cfg_.setup_iptables) {
    return;
  }
  netcfg::RuleSpec spec{cfg_.local_ips, cfg_.dns_port, cfg_.health_port};
  netcfg::RulesOptions other = rulesOptions();
  other.backend = netcfg::otherBackend(backend_);
  other.only_existing_tables = true;
  // Read first (no xtables lock): removing takes the lock, which kube-proxy may hold for seconds.
  auto present = netcfg::checkRules(spec, other);
  bool any = present && std::any_of(present->begin(), present->end(),
                                    [](const netcfg::RuleStatus& s) { return s.copies > 0; });
  auto r = present && !any ? Result<netcfg::RulesReport>(netcfg::RulesReport{})
                           : netcfg::removeRules(spec, other);
  if (!r) {
    // Once at warn (an unreadable other backend usually stays so), then at debug.
    if (!other_backend_warned_) {
      NLD_LOG(kRules, warn, "remove our {} rules: {}, ignoring", netcfg::toString(other.backend),
              r.error().message());
    } else {
      NLD_LOG(kRules, debug, "remove our {} rules: {}, ignoring", netcfg::toString(other.backend),
              r.error().message());
    }
    other_backend_warned_ = true;
  } else if (r->removed > 0) {
    NLD_LOG(kRules, info, "removed {} of our rules from the {} backend (not in use)", r->removed,
            netcfg::toString(other.backend));
  }
}

void Daemon::ensureRulesNow() {
  if (!cfg_.setup_iptables) {
    return;
  }
  redetectRulesBackend();
  netcfg::RuleSpec spec{cfg_.local_ips, cfg_.dns_port, cfg_.health_port};
  auto r = netcfg::ensureRules(spec, rulesOptions());
  if (r) {
    // Only once ours are in: removing the other backend's copies after a failed ensure (say, a
    // kernel without nf_tables) would leave DNS to the local address going through conntrack.
    removeOtherBackendRules();
  }
  if (!r) {
    bool lock = r.error().code() == Errc::kBusy;
    metrics_.count(lock ? SetupError::kIptablesLock : SetupError::kIptables);
    NLD_LOG(kRules, warn, "ensure rules: {}, retrying in {}ms", r.error().message(),
            cfg_.sync_interval.count());
    return;
  }
  if (r->inserted > 0 || r->duplicates_removed > 0 || r->tables_rewritten > 0) {
    NLD_LOG(kRules, info, "rules ensured: inserted={} duplicates_removed={} present={}{}",
            r->inserted, r->duplicates_removed, r->already_present,
            r->tables_rewritten > 0 ? " (nftables table rewritten)" : "");
  }
}

}  // namespace nld::cli::daemon_detail
