// The iptables backend of ensureRules / removeRules / checkRules: plan per chain (rule_plan.h),
// apply through one IptcTable session per (family, table) under the xtables lock.
#include "netcfg/rules/iptables/iptables_rules.h"

#include <algorithm>
#include <cerrno>
#include <mutex>

#include "base/atomic_file.h"
#include "netcfg/rules/iptables/iptc_table.h"
#include "netcfg/rules/iptables/xtables_lock.h"
#include "netcfg/rules/rule_plan.h"

namespace nld::netcfg {

namespace {

void add(RulesReport& into, const ChainPlan& plan) {
  into.inserted += plan.inserted;
  into.duplicates_removed += plan.duplicates_removed;
  into.already_present += plan.already_present;
  into.removed += plan.removed;
}

void add(RulesReport& into, const RulesReport& from) {
  into.inserted += from.inserted;
  into.duplicates_removed += from.duplicates_removed;
  into.already_present += from.already_present;
  into.removed += from.removed;
}

enum class Mode : uint8_t { kEnsure, kRemove };

// libiptc keeps the last failing function in a global for iptc_strerror(); one session at a time
// per process keeps error texts right when the sync loop and `status` run concurrently. Across
// processes the xtables lock serialises writers.
std::mutex& libiptcMutex() {
  static std::mutex m;
  return m;
}

// Read, plan, apply and commit one table (the caller holds the locks).
Result<RulesReport> syncTableOnce(const TableRules& t, Mode mode) {
  auto table = IptcTable::open(t.family, t.table);
  if (!table) {
    return fail(std::move(table).error());
  }
  RulesReport report;
  for (const ChainRules& c : t.chains) {
    auto observed = table->listChain(c.chain);
    if (!observed) {
      return fail(std::move(observed).error());
    }
    ChainPlan plan = mode == Mode::kEnsure ? planEnsure(c.top_order, *observed)
                                           : planRemove(c.top_order, *observed);
    if (auto r = table->apply(c.chain, plan); !r) {
      return fail(std::move(r).error());
    }
    add(report, plan);
  }
  if (table->dirty()) {
    if (auto r = std::move(*table).commit(); !r) {
      return fail(std::move(r).error());
    }
  }
  return report;
}

// One locked read-modify-commit of one (family, table). The counts are returned only when the
// commit (if any) succeeded, so a failed table reports nothing as changed. The kernel refuses a
// replace built on a stale read with EAGAIN — only possible when some writer ignores the xtables
// lock — so that is retried from a fresh read a few times.
Result<RulesReport> syncTable(const TableRules& t, const RulesOptions& options, Mode mode) {
  constexpr int kAttempts = 3;
  auto lock = XtablesLock::acquire(options.lock_path, options.lock_timeout);
  if (!lock) {
    return fail(std::move(lock).error());
  }
  std::lock_guard<std::mutex> guard(libiptcMutex());
  for (int attempt = 1;; ++attempt) {
    auto r = syncTableOnce(t, mode);
    if (r || r.error().sysErrno() != EAGAIN || attempt == kAttempts) {
      return r;
    }
  }
}

// The kernel's list of legacy tables of `family` that exist in this network namespace (none when
// x_tables is not loaded).
std::vector<std::string> legacyTables(Family family) {
  auto names =
      readFile(family == Family::kV4 ? "/proc/net/ip_tables_names" : "/proc/net/ip6_tables_names");
  std::vector<std::string> out;
  if (!names) {
    return out;
  }
  size_t start = 0;
  while (start < names->size()) {
    size_t nl = names->find('\n', start);
    if (nl == std::string::npos) {
      nl = names->size();
    }
    if (nl > start) {
      out.push_back(names->substr(start, nl - start));
    }
    start = nl + 1;
  }
  return out;
}

bool legacyTableExists(Family family, const std::string& table) {
  auto tables = legacyTables(family);
  return std::find(tables.begin(), tables.end(), table) != tables.end();
}

// Every (family, table) is tried even when another failed (one family's trouble, e.g. IPv6
// disabled on the node, must not keep the other's rules away), except after a lock timeout (the
// remaining tables would wait for the same lock again, multiplying the delay) or a permission
// error (they would all fail the same way).
Result<RulesReport> syncAll(const RuleSpec& spec, const RulesOptions& options, Mode mode) {
  RulesReport report;
  std::optional<Error> first;
  int failures = 0;
  for (const TableRules& t : groupRules(nodeLocalDnsRules(spec))) {
    if (options.only_existing_tables && !legacyTableExists(t.family, t.table)) {
      continue;
    }
    auto r = syncTable(t, options, mode);
    if (!r) {
      ++failures;
      // Lock held or no privileges: every other table would fail (or wait) the same way.
      bool stop = r.error().code() == Errc::kBusy || r.error().code() == Errc::kPermissionDenied;
      if (!first) {
        first = std::move(r).error();
      }
      if (stop) {
        break;
      }
      continue;
    }
    add(report, *r);
  }
  if (first) {
    std::string context = mode == Mode::kEnsure ? "ensure rules" : "remove rules";
    if (failures > 1) {
      context += " (and " + std::to_string(failures - 1) + " more tables failed)";
    }
    return fail(std::move(*first).withContext(context));
  }
  return report;
}

}  // namespace

Result<RulesReport> ensureIptablesRules(const RuleSpec& spec, const RulesOptions& options) {
  return syncAll(spec, options, Mode::kEnsure);
}

Result<RulesReport> removeIptablesRules(const RuleSpec& spec, const RulesOptions& options) {
  return syncAll(spec, options, Mode::kRemove);
}

Result<bool> legacyChainExists(Family family, const std::string& table, const std::string& chain) {
  if (!legacyTableExists(family, table)) {
    return false;
  }
  std::lock_guard<std::mutex> guard(libiptcMutex());
  auto t = IptcTable::open(family, table);
  if (!t) {
    return fail(std::move(t).error());
  }
  auto c = t->listChain(chain);
  if (!c) {
    if (c.error().code() == Errc::kNotFound) {
      return false;
    }
    return fail(std::move(c).error());
  }
  return true;
}

Result<int64_t> countLegacyRules() {
  int64_t count = 0;
  std::lock_guard<std::mutex> guard(libiptcMutex());
  for (Family family : {Family::kV4, Family::kV6}) {
    for (const std::string& name : legacyTables(family)) {
      auto table = IptcTable::open(family, name);
      if (!table) {
        return fail(std::move(table).error().withContext("count legacy rules"));
      }
      for (const std::string& chain : table->chainNames()) {
        auto rules = table->listChain(chain);
        if (!rules) {
          return fail(std::move(rules).error().withContext("count legacy rules"));
        }
        for (const std::optional<Rule>& r : *rules) {
          count += r && isOurComment(r->comment) ? 0 : 1;
        }
      }
    }
  }
  return count;
}

Result<std::vector<RuleStatus>> checkIptablesRules(const RuleSpec& spec,
                                                   const RulesOptions& options) {
  std::vector<Rule> list = nodeLocalDnsRules(spec);
  std::vector<RuleStatus> out;
  out.reserve(list.size());
  for (const Rule& r : list) {
    out.push_back(RuleStatus{r, 0});
  }
  // Read-only: like iptables-save, no lock (the kernel hands out a consistent snapshot).
  std::lock_guard<std::mutex> guard(libiptcMutex());
  for (const TableRules& t : groupRules(list)) {
    if (options.only_existing_tables && !legacyTableExists(t.family, t.table)) {
      continue;  // absent table: no copies
    }
    auto table = IptcTable::open(t.family, t.table);
    if (!table) {
      return fail(std::move(table).error().withContext("check rules"));
    }
    for (const ChainRules& c : t.chains) {
      auto observed = table->listChain(c.chain);
      if (!observed) {
        return fail(std::move(observed).error().withContext("check rules"));
      }
      for (RuleStatus& s : out) {
        if (s.rule.family == t.family && s.rule.table == t.table && s.rule.chain == c.chain) {
          s.copies = static_cast<int>(
              std::count(observed->begin(), observed->end(), std::optional<Rule>(s.rule)));
        }
      }
    }
  }
  return out;
}

}  // namespace nld::netcfg
