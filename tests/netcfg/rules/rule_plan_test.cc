// planEnsure / planRemove: the position policy of rules.h on in-memory chains.
#include "netcfg/rules/rule_plan.h"

#include <gtest/gtest.h>

#include "netcfg/rules/rules.h"

namespace nld::netcfg {
namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

// Raw OUTPUT for one address: 6 rules, top order of a fresh install.
std::vector<Rule> rawOutput() {
  for (const auto& t : groupRules(nodeLocalDnsRules({{ip("169.254.20.10")}, 53, 8080}))) {
    if (t.table == "raw") {
      for (const auto& c : t.chains) {
        if (c.chain == "OUTPUT") {
          return c.top_order;
        }
      }
    }
  }
  return {};
}

const std::optional<Rule> kForeign = std::nullopt;

ObservedChain asChain(const std::vector<Rule>& rules) {
  return ObservedChain(rules.begin(), rules.end());
}

TEST(PlanEnsure, EmptyChainGetsFreshInstallOrder) {
  auto desired = rawOutput();
  ASSERT_EQ(desired.size(), 6u);
  auto plan = planEnsure(desired, {});
  EXPECT_EQ(plan.inserted, 6);
  EXPECT_EQ(plan.already_present, 0);
  EXPECT_EQ(applyPlan({}, plan), asChain(desired));
  for (size_t i = 0; i < plan.ops.size(); ++i) {
    EXPECT_EQ(plan.ops[i].kind, RuleOp::Kind::kInsert);
    EXPECT_EQ(plan.ops[i].index, i);
  }
}

TEST(PlanEnsure, ForeignRulesStayBelowANewBlock) {
  auto desired = rawOutput();
  ObservedChain observed = {kForeign, kForeign};
  auto plan = planEnsure(desired, observed);
  auto after = applyPlan(observed, plan);
  ObservedChain want = asChain(desired);
  want.push_back(kForeign);
  want.push_back(kForeign);
  EXPECT_EQ(after, want);
}

TEST(PlanEnsure, AllPresentIsANoOpWhereverTheyAre) {
  auto desired = rawOutput();
  // Someone (kube-proxy, a CNI) inserted above ours: presence only, no move, no flapping.
  ObservedChain observed = {kForeign};
  for (const auto& r : desired) {
    observed.push_back(r);
  }
  observed.push_back(kForeign);
  auto plan = planEnsure(desired, observed);
  EXPECT_TRUE(plan.ops.empty());
  EXPECT_EQ(plan.already_present, 6);
}

TEST(PlanEnsure, MissingRuleRejoinsTheBlockInOrder) {
  auto desired = rawOutput();
  ObservedChain observed = {kForeign};
  for (size_t i = 0; i < desired.size(); ++i) {
    if (i != 0 && i != 3) {
      observed.push_back(desired[i]);
    }
  }
  observed.push_back(kForeign);
  auto plan = planEnsure(desired, observed);
  EXPECT_EQ(plan.inserted, 2);
  EXPECT_EQ(plan.already_present, 4);
  ObservedChain want = {kForeign};
  for (const auto& r : desired) {
    want.push_back(r);
  }
  want.push_back(kForeign);
  EXPECT_EQ(applyPlan(observed, plan), want);
}

TEST(PlanEnsure, DuplicatesKeepTheTopMostCopy) {
  auto desired = rawOutput();
  ObservedChain observed = {desired[2], kForeign};
  for (const auto& r : desired) {
    observed.push_back(r);
  }
  observed.push_back(desired[2]);
  observed.push_back(desired[5]);
  auto plan = planEnsure(desired, observed);
  EXPECT_EQ(plan.duplicates_removed, 3);
  EXPECT_EQ(plan.inserted, 0);
  // Deletes go bottom-up so each index is valid when applied.
  ASSERT_EQ(plan.ops.size(), 3u);
  EXPECT_GT(plan.ops[0].index, plan.ops[1].index);
  EXPECT_GT(plan.ops[1].index, plan.ops[2].index);
  auto after = applyPlan(observed, plan);
  ASSERT_EQ(after.size(), 7u);
  EXPECT_EQ(after[0], desired[2]);  // the copy packets hit first stays
  EXPECT_EQ(after[1], kForeign);
  for (const auto& r : desired) {
    EXPECT_EQ(std::count(after.begin(), after.end(), std::optional<Rule>(r)), 1);
  }
  // And the result is stable.
  EXPECT_TRUE(planEnsure(desired, after).ops.empty());
}

TEST(PlanEnsure, OtherAddressesRulesAreForeign) {
  auto desired = rawOutput();
  auto other = groupRules(nodeLocalDnsRules({{ip("10.0.0.1")}, 53, 8080}))[0].chains[1].top_order;
  ObservedChain observed = asChain(other);
  auto plan = planEnsure(desired, observed);
  EXPECT_EQ(plan.duplicates_removed, 0);
  auto after = applyPlan(observed, plan);
  ASSERT_EQ(after.size(), 12u);
  EXPECT_EQ(ObservedChain(after.begin() + 6, after.end()), observed);
}

TEST(PlanRemove, DeletesEveryCopyAndNothingElse) {
  auto desired = rawOutput();
  ObservedChain observed = {desired[0], kForeign, desired[0], desired[3], kForeign, desired[0]};
  auto plan = planRemove(desired, observed);
  EXPECT_EQ(plan.removed, 4);
  EXPECT_EQ(applyPlan(observed, plan), (ObservedChain{kForeign, kForeign}));
  EXPECT_TRUE(planRemove(desired, {kForeign}).ops.empty());
}

}  // namespace
}  // namespace nld::netcfg
