// Pure rule planning (no I/O, unit-tested without root): which chains of which (family, table)
// hold which of our rules in which final order, and, given what a chain holds now, the minimal
// list of deletes and inserts that reaches it (the position policy is documented in rules.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/ip.h"
#include "netcfg/rules/rule.h"

namespace nld::netcfg {

/// Our rules of one chain, top to bottom as a fresh upstream install leaves them.
struct ChainRules {
  std::string chain;
  std::vector<Rule> top_order;
};

/// Everything for one libiptc session: one (family, table), its chains in kernel order.
struct TableRules {
  Family family = Family::kV4;
  std::string table;
  std::vector<ChainRules> chains;
};

/// Groups a rule list (upstream list order) per (family, table, chain): IPv4 before IPv6, raw
/// before filter, chains in kernel order. Each chain's rules are the reverse of the list (every
/// upstream add is an insert at position 1) with repeats dropped (upstream's check finds the
/// first copy, so a repeat adds nothing).
std::vector<TableRules> groupRules(const std::vector<Rule>& list);

/// One step on a chain, applied in order; `index` is 0-based in the chain as it is at that step.
struct RuleOp {
  enum class Kind : uint8_t { kDelete, kInsert };
  Kind kind = Kind::kInsert;
  unsigned index = 0;
  Rule rule;  // kInsert: the rule to insert; kDelete: the rule being deleted (for messages)

  bool operator==(const RuleOp&) const = default;
};

struct ChainPlan {
  std::vector<RuleOp> ops;
  int inserted = 0;
  int duplicates_removed = 0;
  int already_present = 0;
  int removed = 0;
};

/// An observed chain: one entry per rule, std::nullopt for rules that are not of our shape
/// (foreign: never touched, but they count for positions).
using ObservedChain = std::vector<std::optional<Rule>>;

/// ensure: delete extra copies (bottom-up, keeping the top-most), then insert the missing rules
/// next to ours in `desired` order, or at the top when none of ours is present.
ChainPlan planEnsure(const std::vector<Rule>& desired, const ObservedChain& observed);

/// remove: delete every entry equal to any rule of `rules`, bottom-up.
ChainPlan planRemove(const std::vector<Rule>& rules, const ObservedChain& observed);

/// Applies a plan to an observed chain (what the kernel will hold after commit); for tests and
/// for the dry run.
ObservedChain applyPlan(const ObservedChain& observed, const ChainPlan& plan);

}  // namespace nld::netcfg
