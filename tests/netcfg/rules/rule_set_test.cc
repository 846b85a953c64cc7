// The upstream rule list (spec §4.1), its text forms and the dry-run plan, without root.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "netcfg/rules/rule_plan.h"
#include "netcfg/rules/rules.h"
#include "tests/support/netns.h"

namespace nld::netcfg {
namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

TEST(NodeLocalDnsRules, TwelvePerAddressInUpstreamListOrder) {
  RuleSpec spec{{ip("169.254.20.10")}, 53, 8080};
  auto rules = nodeLocalDnsRules(spec);
  ASSERT_EQ(rules.size(), 12u);
  const std::string c1 = "\"NodeLocal DNS Cache: skip conntrack\"";
  const std::string c2 = "\"NodeLocal DNS Cache: allow DNS traffic\"";
  const std::string l = "169.254.20.10";
  // Spec §4.1 table, column "args exactly as passed to iptables".
  const std::vector<std::tuple<std::string, std::string, std::string>> expected = {
      {"raw", "PREROUTING", "-p tcp -d " + l + " --dport 53 -j NOTRACK -m comment --comment " + c1},
      {"raw", "PREROUTING", "-p udp -d " + l + " --dport 53 -j NOTRACK -m comment --comment " + c1},
      {"filter", "INPUT", "-p tcp -d " + l + " --dport 53 -j ACCEPT -m comment --comment " + c2},
      {"filter", "INPUT", "-p udp -d " + l + " --dport 53 -j ACCEPT -m comment --comment " + c2},
      {"raw", "OUTPUT", "-p tcp -s " + l + " --sport 53 -j NOTRACK -m comment --comment " + c1},
      {"raw", "OUTPUT", "-p udp -s " + l + " --sport 53 -j NOTRACK -m comment --comment " + c1},
      {"filter", "OUTPUT", "-p tcp -s " + l + " --sport 53 -j ACCEPT -m comment --comment " + c2},
      {"filter", "OUTPUT", "-p udp -s " + l + " --sport 53 -j ACCEPT -m comment --comment " + c2},
      {"raw", "OUTPUT", "-p tcp -d " + l + " --dport 53 -j NOTRACK -m comment --comment " + c1},
      {"raw", "OUTPUT", "-p udp -d " + l + " --dport 53 -j NOTRACK -m comment --comment " + c1},
      {"raw", "OUTPUT", "-p tcp -d " + l + " --dport 8080 -j NOTRACK -m comment --comment " + c1},
      {"raw", "OUTPUT", "-p tcp -s " + l + " --sport 8080 -j NOTRACK -m comment --comment " + c1},
  };
  for (size_t i = 0; i < rules.size(); ++i) {
    SCOPED_TRACE("rule " + std::to_string(i + 1));
    EXPECT_EQ(rules[i].family, Family::kV4);
    EXPECT_EQ(rules[i].table, std::get<0>(expected[i]));
    EXPECT_EQ(rules[i].chain, std::get<1>(expected[i]));
    EXPECT_EQ(rules[i].toArgs(), std::get<2>(expected[i]));
  }
}

TEST(NodeLocalDnsRules, AddressesInOrderAndFamiliesMixed) {
  RuleSpec spec{{ip("169.254.20.10"), ip("fd00::10")}, 53, 8080};
  auto rules = nodeLocalDnsRules(spec);
  ASSERT_EQ(rules.size(), 24u);
  EXPECT_EQ(rules[0].family, Family::kV4);
  EXPECT_EQ(rules[12].family, Family::kV6);
  EXPECT_EQ(rules[12].toArgs(),
            "-p tcp -d fd00::10 --dport 53 -j NOTRACK -m comment --comment "
            "\"NodeLocal DNS Cache: skip conntrack\"");
}

TEST(NodeLocalDnsRules, ArgvKeepsTheCommentAsOneArgument) {
  auto rules = nodeLocalDnsRules({{ip("169.254.20.10")}, 53, 8080});
  std::vector<std::string> want = {
      "-p", "udp",     "-d", "169.254.20.10", "--dport",   "53",
      "-j", "NOTRACK", "-m", "comment",       "--comment", "NodeLocal DNS Cache: skip conntrack"};
  EXPECT_EQ(rules[1].toArgv(), want);
}

TEST(Rule, SaveLineAsIptablesSavePrintsIt) {
  auto rules = nodeLocalDnsRules({{ip("169.254.20.10"), ip("fd00::10")}, 53, 8080});
  // Spec §4.1, rule 2.
  EXPECT_EQ(rules[1].toSaveLine(),
            "-A PREROUTING -d 169.254.20.10/32 -p udp -m udp --dport 53 -m comment --comment "
            "\"NodeLocal DNS Cache: skip conntrack\" -j NOTRACK");
  EXPECT_EQ(rules[12 + 11].toSaveLine(),
            "-A OUTPUT -s fd00::10/128 -p tcp -m tcp --sport 8080 -m comment --comment "
            "\"NodeLocal DNS Cache: skip conntrack\" -j NOTRACK");
}

TEST(Rule, SaveLineQuotesLikeXtablesSaveString) {
  Rule r;
  r.chain = "INPUT";
  r.proto = Proto::kUdp;
  r.comment = "plain_word-1";
  EXPECT_EQ(r.toSaveLine(), "-A INPUT -p udp -m comment --comment plain_word-1 -j ACCEPT");
  r.comment = "say \"hi\" it's";
  EXPECT_EQ(r.toSaveLine(),
            "-A INPUT -p udp -m comment --comment \"say \\\"hi\\\" it\\'s\" -j ACCEPT");
}

std::vector<std::string> goldenRuleLines(const std::string& name) {
  std::ifstream in(test::sourcePath("tests/golden/" + name));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("-A ", 0) == 0) {
      lines.push_back(line);
    }
  }
  return lines;
}

std::vector<std::string> planLines(const RuleSpec& spec, const std::string& header) {
  auto text = planRulesText(spec);
  std::vector<std::string> lines;
  bool in = false;
  for (const auto& l : text) {
    if (l.rfind("# ", 0) == 0) {
      in = l == header;
    } else if (in && l.rfind("-A ", 0) == 0) {
      lines.push_back(l);
    }
  }
  return lines;
}

// The golden files come from the iptables binary running upstream's command sequence, so this
// checks, without root, that our final order is a fresh upstream install's.
TEST(PlanRulesText, MatchesTheBinaryMadeGoldenFiles) {
  RuleSpec one{{ip("169.254.20.10")}, 53, 8080};
  RuleSpec two{{ip("169.254.20.10"), ip("10.96.0.10")}, 53, 8080};
  RuleSpec six{{ip("fd00::10")}, 53, 8080};
  ASSERT_FALSE(goldenRuleLines("iptables-one-v4-raw.save").empty());
  EXPECT_EQ(planLines(one, "# iptables -t raw"), goldenRuleLines("iptables-one-v4-raw.save"));
  EXPECT_EQ(planLines(one, "# iptables -t filter"), goldenRuleLines("iptables-one-v4-filter.save"));
  EXPECT_EQ(planLines(two, "# iptables -t raw"), goldenRuleLines("iptables-two-v4-raw.save"));
  EXPECT_EQ(planLines(two, "# iptables -t filter"), goldenRuleLines("iptables-two-v4-filter.save"));
  EXPECT_EQ(planLines(six, "# ip6tables -t raw"), goldenRuleLines("ip6tables-one-v6-raw.save"));
  EXPECT_EQ(planLines(six, "# ip6tables -t filter"),
            goldenRuleLines("ip6tables-one-v6-filter.save"));
}

TEST(PlanRulesText, GroupsPerFamilyAndTable) {
  auto text = planRulesText({{ip("fd00::10"), ip("169.254.20.10")}, 53, 8080});
  std::vector<std::string> headers;
  for (const auto& l : text) {
    if (l[0] == '#' || l[0] == '*' || l == "COMMIT") {
      headers.push_back(l);
    }
  }
  std::vector<std::string> want = {
      "# iptables -t raw",  "*raw", "COMMIT", "# iptables -t filter",  "*filter", "COMMIT",
      "# ip6tables -t raw", "*raw", "COMMIT", "# ip6tables -t filter", "*filter", "COMMIT"};
  EXPECT_EQ(headers, want);
  EXPECT_EQ(text.size(), want.size() + 24);
  EXPECT_TRUE(planRulesText({}).empty());
}

TEST(GroupRules, SameDnsAndHealthPortGivesOneCopy) {
  // With health port == DNS port, rule 11 equals rule 9: upstream's check finds it, adds nothing.
  auto groups = groupRules(nodeLocalDnsRules({{ip("169.254.20.10")}, 53, 53}));
  size_t total = 0;
  for (const auto& t : groups) {
    for (const auto& c : t.chains) {
      total += c.top_order.size();
    }
  }
  EXPECT_EQ(total, 10u);
}

}  // namespace
}  // namespace nld::netcfg
