#include "netcfg/rules/rule_plan.h"

#include <algorithm>

namespace nld::netcfg {

namespace {

int tableRank(const std::string& table) {
  if (table == "raw") {
    return 0;
  }
  if (table == "filter") {
    return 1;
  }
  return 2;
}

int chainRank(const std::string& chain) {
  static const char* const kOrder[] = {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"};
  for (int i = 0; i < 5; ++i) {
    if (chain == kOrder[i]) {
      return i;
    }
  }
  return 5;
}

int findDesired(const std::vector<Rule>& desired, const std::optional<Rule>& rule) {
  if (!rule) {
    return -1;
  }
  for (size_t k = 0; k < desired.size(); ++k) {
    if (desired[k] == *rule) {
      return static_cast<int>(k);
    }
  }
  return -1;
}

}  // namespace

std::vector<TableRules> groupRules(const std::vector<Rule>& list) {
  std::vector<Rule> unique;
  for (const Rule& r : list) {
    if (std::find(unique.begin(), unique.end(), r) == unique.end()) {
      unique.push_back(r);
    }
  }
  std::vector<TableRules> tables;
  // Walk the list backwards: each upstream add is an insert at the top of its chain.
  for (auto it = unique.rbegin(); it != unique.rend(); ++it) {
    auto t = std::find_if(tables.begin(), tables.end(), [&](const TableRules& tr) {
      return tr.family == it->family && tr.table == it->table;
    });
    if (t == tables.end()) {
      tables.push_back(TableRules{it->family, it->table, {}});
      t = tables.end() - 1;
    }
    auto c = std::find_if(t->chains.begin(), t->chains.end(),
                          [&](const ChainRules& cr) { return cr.chain == it->chain; });
    if (c == t->chains.end()) {
      t->chains.push_back(ChainRules{it->chain, {}});
      c = t->chains.end() - 1;
    }
    c->top_order.push_back(*it);
  }
  for (TableRules& t : tables) {
    std::stable_sort(t.chains.begin(), t.chains.end(),
                     [](const ChainRules& a, const ChainRules& b) {
                       return std::make_pair(chainRank(a.chain), a.chain) <
                              std::make_pair(chainRank(b.chain), b.chain);
                     });
  }
  std::stable_sort(tables.begin(), tables.end(), [](const TableRules& a, const TableRules& b) {
    return std::make_tuple(a.family, tableRank(a.table), a.table) <
           std::make_tuple(b.family, tableRank(b.table), b.table);
  });
  return tables;
}

ChainPlan planEnsure(const std::vector<Rule>& desired, const ObservedChain& observed) {
  ChainPlan plan;
  // slots: the chain as it evolves; -1 = an entry that is not one of `desired`.
  std::vector<int> slots;
  std::vector<bool> present(desired.size(), false);
  std::vector<bool> duplicate(observed.size(), false);
  for (size_t i = 0; i < observed.size(); ++i) {
    int k = findDesired(desired, observed[i]);
    if (k >= 0 && present[static_cast<size_t>(k)]) {
      duplicate[i] = true;
    } else if (k >= 0) {
      present[static_cast<size_t>(k)] = true;
      ++plan.already_present;
    }
    slots.push_back(k);
  }
  for (size_t i = observed.size(); i-- > 0;) {
    if (duplicate[i]) {
      plan.ops.push_back({RuleOp::Kind::kDelete, static_cast<unsigned>(i), *observed[i]});
      slots.erase(slots.begin() + static_cast<std::ptrdiff_t>(i));
      ++plan.duplicates_removed;
    }
  }
  auto indexOf = [&](size_t k) {
    return static_cast<size_t>(std::find(slots.begin(), slots.end(), static_cast<int>(k)) -
                               slots.begin());
  };
  for (size_t k = 0; k < desired.size(); ++k) {
    if (present[k]) {
      continue;
    }
    size_t pos = 0;
    bool placed = false;
    for (size_t j = k; j-- > 0;) {  // after the nearest rule of ours that belongs above it
      if (present[j]) {
        pos = indexOf(j) + 1;
        placed = true;
        break;
      }
    }
    for (size_t j = k + 1; !placed && j < desired.size(); ++j) {  // else above the nearest below
      if (present[j]) {
        pos = indexOf(j);
        placed = true;
      }
    }
    slots.insert(slots.begin() + static_cast<std::ptrdiff_t>(pos), static_cast<int>(k));
    present[k] = true;
    plan.ops.push_back({RuleOp::Kind::kInsert, static_cast<unsigned>(pos), desired[k]});
    ++plan.inserted;
  }
  return plan;
}

ChainPlan planRemove(const std::vector<Rule>& rules, const ObservedChain& observed) {
  ChainPlan plan;
  for (size_t i = observed.size(); i-- > 0;) {
    if (findDesired(rules, observed[i]) >= 0) {
      plan.ops.push_back({RuleOp::Kind::kDelete, static_cast<unsigned>(i), *observed[i]});
      ++plan.removed;
    }
  }
  return plan;
}

ObservedChain applyPlan(const ObservedChain& observed, const ChainPlan& plan) {
  ObservedChain chain = observed;
  for (const RuleOp& op : plan.ops) {
    auto at = chain.begin() + static_cast<std::ptrdiff_t>(std::min<size_t>(op.index, chain.size()));
    if (op.kind == RuleOp::Kind::kInsert) {
      chain.insert(at, op.rule);
    } else if (at != chain.end()) {
      chain.erase(at);
    }
  }
  return chain;
}

}  // namespace nld::netcfg
